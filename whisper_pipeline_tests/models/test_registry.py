"""Runs, evaluations and the registry (``models/registry.py``): the one place that reads LATEST,
LAST_EVALUATED, registry.json and the evaluation documents, including missing and torn files."""

import json
from pathlib import Path

import pytest

from whisper_pipeline.io import write_json
from whisper_pipeline.models import registry
from whisper_pipeline.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.at(tmp_path / "ws").ensure()


def packaged(ws: Workspace, run: str, weights: str | None = "model.safetensors", manifest: dict | None = None) -> Path:
    """A run directory as ``checkpoint`` leaves it (the model files' contents do not matter here)."""
    d = ws.run_dir(run)
    d.mkdir(parents=True)
    write_json(d / "config.json", {"model_type": "whisper"})
    if weights:
        (d / weights).write_bytes(b"weights")
    if manifest is not None:
        write_json(ws.run_manifest(run), manifest)
    return d


def evaluation(wer: float | None, cer: float | None = 0.1) -> dict:
    return {"schema_version": 2, "models": {"finetuned": {"wer": wer, "cer": cer}}}


def test_latest_run_is_the_marker_or_nothing(ws):
    assert registry.latest_run(ws) == "" and registry.latest_servable(ws) is None
    registry.set_latest_run(ws, "r1")
    assert ws.latest_run_marker.read_text() == "r1\n"
    assert registry.latest_run(ws) == "r1"
    assert registry.latest_servable(ws) is None, "named, but no model there"
    packaged(ws, "r1")
    assert registry.latest_servable(ws) == ("r1", str(ws.run_dir("r1")))
    ws.latest_run_marker.write_text("  \n")
    assert registry.latest_run(ws) == "" and registry.latest_servable(ws) is None


def test_only_runs_with_config_and_weights_are_servable(ws):
    assert registry.run_dirs(ws) == [] and registry.servable_runs(ws) == []
    packaged(ws, "b-bin", weights="pytorch_model.bin")
    packaged(ws, "a-safetensors")
    packaged(ws, "config-only", weights=None)
    (ws.run_dir("crashed") / "checkpoints").mkdir(parents=True)
    (ws.runs_dir / "notes.txt").write_text("a file, not a run\n")

    assert sorted(d.name for d in registry.run_dirs(ws)) == ["a-safetensors", "b-bin", "config-only", "crashed"]
    assert registry.servable_runs(ws) == ["a-safetensors", "b-bin"]
    assert registry.has_model_config(ws, "config-only") and not registry.is_servable(ws.run_dir("config-only"))
    assert not registry.has_model_config(ws, "crashed") and not registry.has_model_config(ws, "")
    assert registry.find_servable_run(ws, "b-bin") == ws.run_dir("b-bin")
    for name in ("crashed", "config-only", "nope", "../ws/models/whisper/b-bin", "b-bin/", ".", "x" * 300, "x\x00y"):
        assert registry.find_servable_run(ws, name) is None, name
    assert registry.model_created(ws.run_dir("b-bin")).endswith("Z")


def test_run_languages_from_the_manifest_torn_or_missing(ws):
    packaged(ws, "flat", manifest={"languages": ["hr", "sr"]})
    packaged(ws, "nested", manifest={"hyperparameters": {"languages": ["bs"]}})
    packaged(ws, "none")
    packaged(ws, "torn")
    ws.run_manifest("torn").write_text('{"languages": ["hr"')
    assert registry.run_languages(ws, "flat") == ["hr", "sr"]
    assert registry.run_languages(ws, "nested") == ["bs"]
    assert registry.run_languages(ws, "none") == [] and registry.run_languages(ws, "torn") == []
    assert registry.run_manifest(ws, "torn") == {}


def test_recording_evaluations_and_the_run_evaluated_last(ws):
    assert registry.evaluations(ws, "r1") == {} and registry.last_evaluated_run(ws) == ""
    registry.set_latest_run(ws, "r2")
    assert registry.last_evaluated_run(ws) == "r2", "nothing evaluated yet: the latest run"

    combined = registry.record_evaluation(ws, "r1", "sr", evaluation(0.4))
    registry.record_evaluation(ws, "r1", "hr", evaluation(0.3))
    assert combined == ws.evaluation("r1").combined
    assert json.loads(combined.read_text()) == {"run": "r1", "hr": evaluation(0.3), "sr": evaluation(0.4)}
    assert json.loads(ws.evaluation("r1").part("hr").read_text()) == evaluation(0.3)
    assert ws.last_evaluated_marker.read_text() == "r1\n"
    assert registry.last_evaluated_run(ws) == "r1", "the marker, not the latest run"
    assert registry.evaluations(ws, "r1") == {"hr": evaluation(0.3), "sr": evaluation(0.4)}
    assert list(registry.evaluations(ws, "r1")) == ["hr", "sr"]
    assert registry.evaluated_wer(ws, "r1") == {"hr": 0.3, "sr": 0.4}
    assert registry.evaluations(ws, "r2") == {}, "another run's evaluations are its own"

    registry.record_evaluation(ws, "r1", "hr", evaluation(0.25))
    assert registry.evaluated_wer(ws, "r1") == {"hr": 0.25, "sr": 0.4}, "re-evaluating replaces the part"
    assert json.loads(combined.read_text())["hr"] == evaluation(0.25)


def test_a_torn_evaluation_document(ws):
    registry.record_evaluation(ws, "r1", "hr", evaluation(0.3))
    ws.evaluation("r1").part("sr").write_text('{"models": {"finet')
    with pytest.raises(json.JSONDecodeError):
        registry.evaluations(ws, "r1")
    assert registry.evaluations(ws, "r1", strict=False) == {"hr": evaluation(0.3), "sr": {}}
    assert registry.evaluated_wer(ws, "r1") == {"hr": 0.3, "sr": None}, "the service still lists the run"


def test_promotions_and_their_history(ws):
    assert registry.load_registry(ws) == {"production": None, "history": []}
    assert registry.production_run(ws) is None and registry.production_servable(ws) is None
    assert not ws.registry.exists(), "reading never creates the registry"

    packaged(ws, "good")
    first = registry.promote(ws, "good", {"hr": 0.3}, reason="gates passed")
    assert first["run"] == "good" and first["path"] == str(ws.run_dir("good"))
    assert first["wer"] == {"hr": 0.3} and first["reason"] == "gates passed" and first["promoted_at"].endswith("Z")
    assert registry.production_run(ws) == first
    assert registry.production_servable(ws) == ("good", str(ws.run_dir("good")))

    second = registry.promote(ws, "better", {"hr": 0.2})
    saved = json.loads(ws.registry.read_text())
    assert saved["production"] == second and [h["run"] for h in saved["history"]] == ["good", "better"]
    assert registry.production_servable(ws) is None, "promoted, but its model directory is gone"


def test_a_torn_registry_is_an_error_not_an_empty_one(ws):
    # the registry is written atomically; a torn one was edited by hand and must not read as "nothing promoted"
    ws.registry.parent.mkdir(parents=True, exist_ok=True)
    ws.registry.write_text('{"production": {"run": "go')
    with pytest.raises(json.JSONDecodeError):
        registry.production_run(ws)
