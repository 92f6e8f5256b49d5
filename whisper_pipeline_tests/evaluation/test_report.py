"""``evaluate_models`` on real audio with the tiny model: beam or greedy decoding, batching, breakdowns."""

import subprocess

import pytest

from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.evaluation.report import evaluate_models
from whisper_pipeline_tests.conftest import espeak_wav


@pytest.fixture(scope="module")
def test_lines(tmp_path_factory) -> list[ManifestLine]:
    d = tmp_path_factory.mktemp("eval-audio")
    texts = ["Dobar dan svima.", "Kiša pada cijeli dan.", "Idemo u grad sutra."]
    lines = []
    for i, text in enumerate(texts):
        audio = d / f"u{i}.wav"  # as processed_audio leaves it: 16 kHz mono
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(espeak_wav(text, "hr", d / f"raw{i}.wav")), "-ar", "16000", str(audio)],
            check=True,
        )
        lines.append(
            ManifestLine(
                id=f"u{i}",
                audio=str(audio),
                transcript=text,
                duration=1.5 + 4 * i,
                language="hr",
                speaker=f"s{i % 2}",
                split="test",
                source="upload" if i else "yt:abc",
            )
        )
    return lines


def test_beam_search_batched_with_every_breakdown(tiny_model_dir, test_lines):
    seen = []
    doc = evaluate_models(
        {"finetuned": tiny_model_dir, "base": tiny_model_dir},
        test_lines,
        "hr",
        batch_size=2,
        num_beams=2,
        progress=lambda label, done, total: seen.append((label, done, total)),
    )
    assert doc["decoding"] == {"num_beams": 2} and doc["utterances"] == 3
    assert seen == [("finetuned", 2, 3), ("finetuned", 3, 3), ("base", 2, 3), ("base", 3, 3)]
    ft = doc["models"]["finetuned"]
    assert ft["real_time_factor"] > 0
    assert set(ft["by_speaker"]) == {"s0", "s1"} and set(ft["by_source"]) == {"upload", "yt:abc"}
    assert sum(g["utterances"] for g in ft["by_duration"].values()) == 3
    same = doc["comparisons"]["finetuned_vs_base"]
    assert same["wer_difference"] == 0 and not same["significant"], "the same model twice differs by nothing"
    assert [r["finetuned_hypothesis"] for r in doc["per_utterance"]] == [
        r["base_hypothesis"] for r in doc["per_utterance"]
    ]


def test_batching_does_not_change_greedy_output(tiny_model_dir, test_lines):
    one = evaluate_models({"finetuned": tiny_model_dir}, test_lines, "hr", batch_size=1)
    three = evaluate_models({"finetuned": tiny_model_dir}, test_lines, "hr", batch_size=3)
    assert [r["finetuned_hypothesis"] for r in one["per_utterance"]] == [
        r["finetuned_hypothesis"] for r in three["per_utterance"]
    ]


@pytest.mark.usefixtures("one_torch_thread")
def test_every_model_is_scored_on_the_same_degraded_utterances(tiny_model_dir, test_lines):
    import glob
    import tempfile

    before = set(glob.glob(f"{tempfile.gettempdir()}/eval-conditions-*"))
    conditions = ["babble_5db", "telephone"]
    doc = evaluate_models(
        {"finetuned": tiny_model_dir, "base": tiny_model_dir},
        test_lines,
        "hr",
        batch_size=3,
        conditions=conditions,
        babble_from=test_lines,
    )
    assert list(doc["conditions"]) == conditions and doc["conditions_seconds"] > 0
    babble = doc["conditions"]["babble_5db"]
    assert babble["kind"] == "noise" and babble["noise"] == "babble" and babble["snr_db"] == 5.0
    for name, entry in doc["conditions"].items():
        assert set(entry["models"]) == {"finetuned", "base"}, name
        ft = entry["models"]["finetuned"]
        assert ft["utterances"] == 3 and ft["wer"] is not None and ft["wer_ci95"][0] <= ft["wer"] <= ft["wer_ci95"][1]
        # the same model on the same degraded files: identical hypotheses, no difference
        assert entry["hypotheses"]["finetuned"] == entry["hypotheses"]["base"], name
        assert entry["comparisons"]["finetuned_vs_base"]["wer_difference"] == 0
    assert set(glob.glob(f"{tempfile.gettempdir()}/eval-conditions-*")) == before, "degraded audio removed"

    again = evaluate_models(
        {"finetuned": tiny_model_dir}, test_lines, "hr", conditions=["babble_5db"], babble_from=test_lines
    )
    assert again["conditions"]["babble_5db"]["hypotheses"]["finetuned"] == babble["hypotheses"]["finetuned"], "seeded"


@pytest.mark.usefixtures("one_torch_thread")
def test_babble_without_another_speaker_is_skipped_with_the_reason(tiny_model_dir, test_lines):
    doc = evaluate_models({"finetuned": tiny_model_dir}, test_lines[:1], "hr", conditions=["babble_10db"])
    assert doc["conditions"]["babble_10db"]["skipped"] == "no other test speaker to make babble from"
    with pytest.raises(ValueError, match="pink_7db.*known: clean, white_20db"):
        evaluate_models({"finetuned": tiny_model_dir}, test_lines, "hr", conditions=["pink_7db"])
