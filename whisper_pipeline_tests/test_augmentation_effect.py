"""``bench/augmentation_effect.py`` without training: its evaluation cache (reused when nothing changed, redone
when the model changes), degraded audio with babble from other speakers, and the table and verdict."""

import importlib.util
import os
from pathlib import Path

import pytest

from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.workspace import REPO_ROOT

from .conftest import espeak_16k


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("augmentation_effect", REPO_ROOT / "bench" / "augmentation_effect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[ManifestLine]:
    tmp = tmp_path_factory.mktemp("bench-test")
    said = [("hr", "s1", "dobar dan"), ("hr", "s2", "hvala lijepa"), ("sr", "s3", "laku noć")]
    return [
        ManifestLine(f"u{i}", str(espeak_16k(text, lang, tmp / f"u{i}.wav")), text, 1.0, lang, speaker, "test")
        for i, (lang, speaker, text) in enumerate(said)
    ]


def test_evaluations_are_cached_until_the_model_changes(bench, lines, tiny_model_dir, tmp_path):
    conditions = ["clean", "babble_10db"]
    first = bench.evaluate(tmp_path, "tiny", Path(tiny_model_dir), lines, conditions, device="cpu")
    assert set(first) == set(conditions)
    assert all(r["wer"] is not None and len(r["per_utterance"]) == 3 for r in first.values())
    files = {c: tmp_path / "eval" / "tiny" / f"{c}.json" for c in conditions}
    stamps = {c: f.stat().st_mtime_ns for c, f in files.items()}
    degraded = sorted((tmp_path / "degraded" / "babble_10db").glob("*.wav"))
    assert [p.stem for p in degraded] == ["u0", "u1", "u2"]

    again = bench.evaluate(tmp_path, "tiny", Path(tiny_model_dir), lines, conditions, device="cpu")
    assert again == first
    assert {c: f.stat().st_mtime_ns for c, f in files.items()} == stamps  # nothing transcribed again

    weights = next(p for p in (Path(tiny_model_dir)).iterdir() if p.suffix == ".safetensors")
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # "retrained"
    bench.evaluate(tmp_path, "tiny", Path(tiny_model_dir), lines, ["clean"], device="cpu")
    assert files["clean"].stat().st_mtime_ns != stamps["clean"]
    assert files["babble_10db"].stat().st_mtime_ns == stamps["babble_10db"]


def test_babble_comes_from_other_test_speakers_as_eval_report_picks_them(bench, lines):
    pools = bench.babble_pools(lines)
    assert len(pools(lines[0])) == 1  # hr has two test speakers: the other one (s2), never s1 itself
    assert len(pools(lines[2])) == 2  # sr has one: the other languages' test speakers (s1, s2)


def test_table_shows_the_difference_and_the_verdict_applies_the_clean_margin(bench):
    def wers(**by_condition):
        return {c: {"wer": w} for c, w in by_condition.items()}

    results = {
        "base": wers(clean=1.0, pink_10db=1.2),
        "plain": wers(clean=0.30, pink_10db=0.60),
        "augmented": wers(clean=0.31, pink_10db=0.45),
    }
    table = bench.format_table(results, ["clean", "pink_10db"])
    assert "| pink_10db | 1.200 | 0.600 | 0.450 | -0.150 | 0.75 |" in table
    assert "| mean of 1 degraded |" in table
    assert "criterion met" in bench.verdict(results, ["clean", "pink_10db"])
    results["augmented"]["clean"]["wer"] = 0.33  # 0.03 worse on clean
    assert "criterion NOT met" in bench.verdict(results, ["clean", "pink_10db"])


def test_the_difference_comes_with_its_paired_interval_from_the_cached_hypotheses(bench):
    references = {f"u{i}": "jedan dva tri četiri" for i in range(20)}

    def result(wrong_from: int) -> dict:  # utterances from ``wrong_from`` on have one word wrong
        rows = [
            {"id": u, "hypothesis": "jedan dva tri pet" if i >= wrong_from else ref}
            for i, (u, ref) in enumerate(references.items())
        ]
        return {"wer": (20 - wrong_from) / 80, "per_utterance": rows}

    results = {"plain": {"clean": result(18)}, "augmented": {"clean": result(2)}}
    table = bench.format_table(results, ["clean"], references)
    low, high = bench.paired_difference(results["plain"]["clean"], results["augmented"]["clean"], references)[
        "difference_ci95"
    ]
    assert 0 < low < 0.2 < high, "16 more wrong words in 80: +0.2, clearly above 0"
    assert f"| +0.200 [{low:+.3f}, {high:+.3f}] |" in table
    results["augmented"]["pink_10db"] = results["plain"]["pink_10db"] = result(18)
    text = bench.verdict(results, ["clean", "pink_10db"], references=references)
    assert "clean difference 95% CI" in text and ": significant" in text
    results["augmented"]["clean"] = result(17)  # one more wrong word than plain: noise
    assert "within the test set's noise" in bench.verdict(results, ["clean", "pink_10db"], references=references)


def test_a_changed_augmentation_config_names_a_new_augmented_model_only(bench, tmp_path):
    tuned = tmp_path / "augment.yaml"
    tuned.write_text(bench.DEFAULT_AUGMENT_CONFIG.read_text() + "\n# tuned\n")
    shipped = bench.run_names(bench.DEFAULT_TRAIN_CONFIG, bench.DEFAULT_AUGMENT_CONFIG)
    changed = bench.run_names(bench.DEFAULT_TRAIN_CONFIG, tuned)
    assert changed["plain"] == shipped["plain"] and changed["augmented"] != shipped["augmented"]


def test_the_shipped_recipe_is_the_one_the_readme_measured():
    """README: C is B with noise p 0.2, reverb p 0.1, speed p 0.1, and C is configs/augment.yaml."""
    import re

    import yaml

    from whisper_pipeline.workspace import CONFIGS

    readme = " ".join((CONFIGS.parent / "README.md").read_text(encoding="utf-8").split())
    b = re.search(
        r"\*\*B\*\*: noise p ([\d.]+) at (\d+)–(\d+) dB, babble p ([\d.]+) at (\d+)–(\d+) dB, reverb p", readme
    )
    c = re.search(
        r"\*\*C\*\* \(\*\*the shipped `configs/augment.yaml`\*\*\): "
        r"B with noise p ([\d.]+), reverb p ([\d.]+), speed p ([\d.]+)",
        readme,
    )
    assert b and c, "the README's recipe lines"
    shipped = yaml.safe_load((CONFIGS / "augment.yaml").read_text(encoding="utf-8"))
    assert [shipped["noise"][k] for k in ("min_snr_db", "max_snr_db")] == [int(b[2]), int(b[3])]
    assert [shipped["babble"]["p"], shipped["babble"]["min_snr_db"], shipped["babble"]["max_snr_db"]] == [
        float(b[4]),
        int(b[5]),
        int(b[6]),
    ]
    assert [shipped["noise"]["p"], shipped["reverb"]["p"], shipped["speed"]["p"]] == [float(x) for x in c.groups()]
