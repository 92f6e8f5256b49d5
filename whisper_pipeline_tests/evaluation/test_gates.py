"""Promotion gates and the registry, through Dagster (the evaluation documents here are written by the
test; the real eval_report → gates path is exercised in test_pipeline_tiny)."""

import json

import dagster as dg

from whisper_pipeline.assets import production_model
from whisper_pipeline.evaluation.gates import regression_gate, wer_ceiling_gate
from whisper_pipeline.io import write_json
from whisper_pipeline.models.registry import load_registry, set_latest_run
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.pipeline import latest_metadata


def doc(
    wer: float, production: float | None = None, cer: float | None = None, production_cer: float | None = None
) -> dict:
    models = {"finetuned": {"wer": wer, "cer": cer}}
    if production is not None:
        models["production"] = {"wer": production, "cer": production_cer}
    return {"models": models, "comparisons": {}}


def test_gates():
    assert wer_ceiling_gate({"hr": doc(0.3), "sr": doc(0.5)}, 0.4).failures == ["sr: WER 0.5 above the ceiling 0.4"]
    assert wer_ceiling_gate({"sr": doc(0.5)}, 0.4, {"sr": 0.6}).passed
    assert regression_gate({"hr": doc(0.9)}, 0.02).passed, "no production model yet: nothing to regress from"
    assert regression_gate({"hr": doc(0.31, 0.30)}, 0.02).passed
    assert not regression_gate({"hr": doc(0.40, 0.30)}, 0.02).passed


def test_a_silent_model_cannot_pass_on_wer_alone():
    # a broken model that outputs nothing scores WER 1.0, "better" than a production model at 1.05 that
    # hallucinates; its CER (every character deleted) is what shows it
    silent = {"hr": doc(1.0, 1.05, cer=1.0, production_cer=0.46)}
    assert regression_gate(silent, 0.02).passed, "WER alone is fooled"
    gate = regression_gate(silent, 0.02, cer_margin=0.02)
    assert gate.failures == ["hr: CER 1.0 is worse than production 0.46 by more than 0.02"]
    assert regression_gate({"hr": doc(0.3, 0.3, cer=0.11, production_cer=0.10)}, 0.02, cer_margin=0.02).passed


def write_run(ws: Workspace, run: str, wers: dict, production: dict | None = None) -> None:
    (ws.run_dir(run)).mkdir(parents=True, exist_ok=True)
    for lang, wer in wers.items():
        write_json(ws.evaluation(run).part(lang), doc(wer, (production or {}).get(lang)))
    set_latest_run(ws, run)


def test_only_a_run_that_passes_the_gates_is_promoted(tmp_path):
    ws = Workspace.at(tmp_path / "ws").ensure()
    instance = dg.DagsterInstance.ephemeral()
    resources = {"workspace": WorkspaceResource(root=str(ws.root))}

    write_run(ws, "good", {"hr": 0.30, "sr": 0.40})
    assert dg.materialize([production_model], resources=resources, instance=instance).success
    registry = load_registry(ws)
    assert registry["production"]["run"] == "good" and registry["production"]["wer"] == {"hr": 0.30, "sr": 0.40}
    assert "whisper_pipeline.serving" in latest_metadata(instance, "production_model")["serve"]

    write_run(ws, "worse", {"hr": 0.45, "sr": 0.41}, production={"hr": 0.30, "sr": 0.40})
    result = dg.materialize([production_model], resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
    assert failure.error.message.strip() == (
        "dagster._core.definitions.events.Failure: worse not promoted: "
        "hr: WER 0.45 is worse than production 0.3 by more than 0.02"
    )
    assert load_registry(ws)["production"]["run"] == "good", "a worse model is never promoted"

    write_run(ws, "too_high", {"hr": 0.95})
    config = {"ops": {"production_model": {"config": {"wer_ceiling": 0.8}}}}
    assert not dg.materialize(
        [production_model], resources=resources, instance=instance, run_config=config, raise_on_error=False
    ).success

    write_run(ws, "better", {"hr": 0.25, "sr": 0.39}, production={"hr": 0.30, "sr": 0.40})
    assert dg.materialize([production_model], resources=resources, instance=instance).success
    registry = json.loads(ws.registry.read_text())
    assert registry["production"]["run"] == "better" and [h["run"] for h in registry["history"]] == ["good", "better"]
