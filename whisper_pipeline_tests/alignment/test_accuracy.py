"""Word-boundary accuracy of the real aligner on speech with known boundaries (slow: real whisper-base)."""

import json
from pathlib import Path

import pytest

from whisper_pipeline.alignment.accuracy import boundary_errors, build_clip, summarize
from whisper_pipeline.alignment.align import align_file, load_aligner
from whisper_pipeline.sample_data import sentences


@pytest.mark.slow
def test_mean_boundary_error_under_100_ms(real_base_model, tmp_path):
    aligner = load_aligner(real_base_model, "cpu")
    errors = []
    for i, sentence in enumerate(sentences("hr")[10:16]):
        clip = build_clip(sentence, tmp_path / f"{i}.wav", voice="hr", seed=i, noise_snr_db=20.0)
        result = align_file(aligner, clip.audio, clip.text, "hr", f"c{i}", tmp_path / "out" / f"c{i}", 10.0)
        doc = json.loads(Path(result.json_path).read_text(encoding="utf-8"))
        e = boundary_errors(clip.words, [w for s in doc["segments"] for w in s["words"]])
        assert e is not None, sentence
        errors += e
    stats = summarize(errors)
    assert stats["mean_ms"] <= 100, stats
    assert (tmp_path / "out" / "c0" / "karaoke.lrc").is_file()


def test_connected_clip_truth_comes_from_the_synthesiser(tmp_path):
    import numpy as np
    import soundfile as sf

    from whisper_pipeline.alignment.accuracy import EDGE_PAD_S, build_connected_clip

    sentence = "Dobro jutro, kako ste danas?"
    clip = build_connected_clip(sentence, tmp_path / "c.wav", voice="hr")
    audio, rate = sf.read(clip.audio, dtype="float32")
    assert rate == 16000
    assert [w["word"] for w in clip.words] == sentence.split()
    starts = [w["start"] for w in clip.words]
    assert starts[0] == EDGE_PAD_S and starts == sorted(starts)
    assert starts[-1] < audio.size / rate - EDGE_PAD_S
    # the first word and the one after the comma follow silence; the rest run on from their neighbour
    assert [w["after_pause"] for w in clip.words] == [True, False, True, False, False]
    assert not np.any(audio[: int(EDGE_PAD_S * rate)])

    noisy = build_connected_clip(sentence, tmp_path / "n.wav", voice="hr", noise_snr_db=10.0)
    lead, _ = sf.read(noisy.audio, dtype="float32", frames=int(0.25 * rate))
    speech = audio[int(EDGE_PAD_S * rate) : -int(EDGE_PAD_S * rate)]
    snr = 10 * np.log10(np.mean(speech**2) / np.mean(lead**2))
    # 10 dB below the active speech; over the whole sentence, its pauses included, a little less
    assert 8.0 < snr < 10.0, snr
    # espeak carries a little state from one call to the next: timings agree to within a millisecond
    assert [(w["word"], w["after_pause"]) for w in noisy.words] == [(w["word"], w["after_pause"]) for w in clip.words]
    assert [w["start"] for w in noisy.words] == pytest.approx(starts, abs=0.001)


def test_start_errors():
    from whisper_pipeline.alignment.accuracy import start_errors, summarize

    truth = [{"word": "a", "start": 1.0}, {"word": "b", "start": 2.0}]
    aligned = [
        {"word": " a", "start": 1.02, "end": 1.5},
        {"word": " ", "start": 1.5, "end": 1.5},
        {"word": " b", "start": 1.9, "end": 2.5},
    ]
    assert start_errors(truth, aligned) == pytest.approx([0.02, 0.1])
    assert start_errors(truth, aligned, signed=True) == pytest.approx([0.02, -0.1])
    assert start_errors(truth, aligned[:1]) is None
    assert summarize([0.02, 0.1])["mean_ms"] == 60.0
    assert summarize([])["boundaries"] == 0
