"""Degraded-condition evaluation: babble sources, the degraded test set, and through Dagster (``eval_report``
and the gate checks materialized on an ephemeral instance with the tiny model and real espeak-ng clips)."""

import html
import json
import re
import shutil

import dagster as dg
import numpy as np
import pytest
import soundfile as sf

from whisper_pipeline.assets import eval_report
from whisper_pipeline.assets.gate_checks import EVAL_CHECKS
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.evaluation.conditions import babble_candidates, eval_seed, write_degraded
from whisper_pipeline.io import write_jsonl
from whisper_pipeline.models import registry
from whisper_pipeline.stages.evaluate import babble_sources
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_16k
from whisper_pipeline_tests.pipeline import latest_metadata, pipeline_resources

TEXTS = ["Dobar dan svima.", "Kiša pada cijeli dan.", "Idemo u grad sutra."]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[ManifestLine]:
    """Three Croatian clips by two test speakers, 16 kHz mono as processed_audio leaves them."""
    d = tmp_path_factory.mktemp("cond-clips")
    return [
        ManifestLine(
            id=f"u{i}",
            audio=str(espeak_16k(text, "hr", d / f"u{i}.wav")),
            transcript=text,
            duration=1.5,
            language="hr",
            speaker=f"s{i % 2}",
            split="test",
        )
        for i, text in enumerate(TEXTS)
    ]


def line(id_: str, speaker: str) -> ManifestLine:
    return ManifestLine(
        id=id_, audio=f"/{id_}.wav", transcript="x", duration=1.0, language="sr", speaker=speaker, split="test"
    )


def test_babble_comes_from_other_test_speakers_never_from_training_speakers(clips):
    own = babble_candidates(clips, [line("o1", "x")], set())
    assert sorted(l.id for l in own) == ["u0", "u1", "u2"], "two test speakers here: their own test split"
    alone = clips[:1]
    others = [line("o1", "x"), line("o2", "y"), line("o3", "trained")]
    assert {l.id for l in babble_candidates(alone, others, {"trained"})} == {"o1", "o2"}, "other languages' test"
    assert babble_candidates(alone, [], set()) == []


def test_babble_sources_read_the_workspace(tmp_path, clips):
    ws = Workspace.at(tmp_path / "ws").ensure()
    single = [clips[0]]
    write_jsonl(ws.training_manifest("hr", "test"), [l.to_dict() for l in single])
    write_jsonl(ws.training_manifest("sr", "test"), [line("sr1", "sr-a").to_dict(), line("sr2", "sr-b").to_dict()])
    write_jsonl(ws.training_manifest("bs", "train"), [line("bs1", "sr-b").to_dict()])  # a speaker who trains
    assert [l.id for l in babble_sources(ws, "hr", single)] == ["sr1"]


def test_the_degraded_set_is_seeded_and_babble_excludes_the_speaker(clips, tmp_path):
    a = write_degraded(clips, ["pink_5db", "babble_10db"], tmp_path / "a", babble_from=clips)
    b = write_degraded(clips, ["pink_5db", "babble_10db"], tmp_path / "b", babble_from=clips)
    assert list(a.paths) == ["pink_5db", "babble_10db"] and not a.skipped
    for name in a.paths:
        for pa, pb, clip in zip(a.paths[name], b.paths[name], clips):
            x, sr = sf.read(pa, dtype="float32")
            assert sr == 16000 and x.size == sf.info(clip.audio).frames
            assert np.array_equal(x, sf.read(pb, dtype="float32")[0]), f"{name}: not reproducible"
    assert eval_seed("u1", "pink_5db") == "eval:u1:pink_5db"
    # s0's utterances get babble only from s1 (one utterance): a single speaker's babble is s1 alone
    only_self = write_degraded(clips[:1], ["babble_10db"], tmp_path / "c", babble_from=[clips[0], clips[2]])
    assert only_self.skipped == {"babble_10db": "no other test speaker to make babble from"}
    assert not (tmp_path / "c" / "babble_10db").exists()


@pytest.fixture
def ws(tmp_path, tiny_model_dir, clips) -> Workspace:
    """The hr test split, a trained run ``tiny`` and a production run ``prod`` (the same tiny model)."""
    ws = Workspace.at(tmp_path / "ws").ensure()
    write_jsonl(ws.training_manifest("hr", "test"), [l.to_dict() for l in clips])
    shutil.copytree(tiny_model_dir, ws.run_dir("prod"))
    registry.promote(ws, "prod", {"hr": 0.9})
    shutil.copytree(tiny_model_dir, ws.run_dir("tiny"))
    registry.set_latest_run(ws, "tiny")
    return ws


@pytest.mark.usefixtures("one_torch_thread")
def test_conditions_reach_the_document_metadata_dashboard_and_gates(ws, tiny_model_dir):
    instance = dg.DagsterInstance.ephemeral()
    conditions = ["babble_10db", "telephone"]
    gates = {"gate_conditions": ["babble_10db", "reverb_0.8s"], "condition_wer_ceiling": 5.0, "wer_ceiling": 5.0}
    result = dg.materialize(
        [eval_report, *EVAL_CHECKS],
        partition_key="hr",
        resources=pipeline_resources(ws, tiny_model_dir),
        instance=instance,
        run_config={
            "ops": {
                "eval_report": {"config": {"conditions": conditions, "compare_base": False, "batch_size": 3}},
                **{f"eval_report_{c}": {"config": gates} for c in ("wer_below_ceiling", "no_regression_vs_production")},
            }
        },
        raise_on_error=False,
    )
    doc = json.loads(ws.evaluation("tiny").part("hr").read_text())
    assert list(doc["conditions"]) == conditions
    for name in conditions:
        models = doc["conditions"][name]["models"]
        assert set(models) == {"finetuned", "production"}
        assert models["finetuned"]["wer"] == models["production"]["wer"], "the same model on the same audio"
        assert len(doc["conditions"][name]["hypotheses"]["finetuned"]) == 3

    meta = latest_metadata(instance, "eval_report", "hr")
    assert set(meta["condition_wer"]) == set(conditions)
    assert (
        meta["condition_wer"]["telephone"]["production"]
        == doc["conditions"]["telephone"]["models"]["production"]["wer"]
    )
    assert meta["wer_babble_10db"] == doc["conditions"]["babble_10db"]["models"]["finetuned"]["wer"]

    page = (ws.report_dir("tiny") / "index.html").read_text()
    assert "Robustness (hr): WER against SNR" in page and "Robustness (hr): reverberation, telephone" in page
    table = re.search(r"<table id='robustness'>.*?</table>", page, re.S).group(0)
    assert all(f"<td>hr</td><td>{n}</td>" in table for n in ["clean", *conditions])
    assert table.count("<tr>") == 1 + 1 + len(conditions)
    data = json.loads(html.unescape(re.search(r'id="robustness-data">(.*?)</script>', page, re.S).group(1)))
    assert data["hr"]["babble_10db"]["finetuned"] == doc["conditions"]["babble_10db"]["models"]["finetuned"]["wer"]

    # the gates judged the chosen conditions: babble_10db passes (same model), reverb_0.8s was not evaluated
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["wer_below_ceiling"].passed is False  # reverb_0.8s is missing for the ceiling too
    regression = checks["no_regression_vs_production"]
    failures = regression.metadata["failures"].value
    assert not regression.passed and failures == [
        "hr: condition reverb_0.8s was not evaluated (add it to eval_report's conditions)"
    ]
    assert regression.metadata["details"].value["conditions"]["hr"]["babble_10db"]["margin"] == 0.02


def test_an_unknown_condition_in_the_config_fails_clearly(ws, tiny_model_dir):
    result = dg.materialize(
        [eval_report],
        partition_key="hr",
        resources=pipeline_resources(ws, tiny_model_dir),
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"eval_report": {"config": {"conditions": ["pink_7db"]}}}},
        raise_on_error=False,
    )
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    message = error.cause.message if error.cause else error.message  # Dagster wraps the config's ValueError
    assert "unknown degradation condition(s) ['pink_7db']; known: clean, white_20db" in message
    assert not ws.evaluation("tiny").part("hr").exists()
