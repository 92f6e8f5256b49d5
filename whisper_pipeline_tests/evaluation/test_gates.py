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


def with_condition(d: dict, name: str, wer: float, production: float | None = None) -> dict:
    models = {"finetuned": {"wer": wer}} | ({"production": {"wer": production}} if production is not None else {})
    d.setdefault("conditions", {})[name] = {"kind": "noise", "models": models}
    return d


def test_gate_conditions_judge_the_degraded_scores_too():
    from whisper_pipeline.audio.degrade import UnknownConditionError
    from whisper_pipeline.evaluation.gates import GateSettings

    # clean: within the margin; pink 10 dB: far worse than production
    evals = {"hr": with_condition(doc(0.30, 0.30), "pink_10db", 0.70, 0.40)}
    assert GateSettings().regression(evals).passed, "conditions are not judged unless chosen"
    gate = GateSettings(gate_conditions=["pink_10db"]).regression(evals)
    assert gate.failures == ["hr: WER 0.7 on pink_10db is worse than production 0.4 by more than 0.02"]
    assert gate.details["conditions"]["hr"]["pink_10db"]["production_wer"] == 0.4
    better = {"hr": with_condition(doc(0.30, 0.30), "pink_10db", 0.41, 0.40)}
    assert GateSettings(gate_conditions=["pink_10db"]).regression(better).passed
    # a chosen condition that was not evaluated (or was skipped) fails, naming the fix
    missing = GateSettings(gate_conditions=["telephone"]).regression(evals)
    assert missing.failures == ["hr: condition telephone was not evaluated (add it to eval_report's conditions)"]
    skipped = {"hr": doc(0.3, 0.3) | {"conditions": {"babble_5db": {"skipped": "no other test speaker"}}}}
    assert (
        "skipped in evaluation: no other test speaker"
        in GateSettings(gate_conditions=["babble_5db"]).regression(skipped).failures[0]
    )
    # no production model: nothing to regress from, on any condition
    assert (
        GateSettings(gate_conditions=["pink_10db"])
        .regression({"hr": with_condition(doc(0.3), "pink_10db", 0.9)})
        .passed
    )
    # the ceiling on the chosen conditions, when set
    ceiling = GateSettings(gate_conditions=["pink_10db"], condition_wer_ceiling=0.6)
    assert ceiling.ceiling(evals).failures == ["hr: WER 0.7 on pink_10db above the ceiling 0.6"]
    assert GateSettings(gate_conditions=["pink_10db"]).ceiling(evals).passed, "no condition ceiling by default"
    try:
        GateSettings(gate_conditions=["pink_7db"])
        raise AssertionError("an unknown condition must be refused")
    except UnknownConditionError as err:
        assert "pink_7db" in str(err) and "pink_10db" in str(err)


def test_promotion_refused_on_a_gate_condition(tmp_path):
    ws = Workspace.at(tmp_path / "ws").ensure()
    instance = dg.DagsterInstance.ephemeral()
    resources = {"workspace": WorkspaceResource(root=str(ws.root))}
    write_run(ws, "good", {"hr": 0.30})
    assert dg.materialize([production_model], resources=resources, instance=instance).success
    (ws.run_dir("noisy")).mkdir(parents=True)
    write_json(ws.evaluation("noisy").part("hr"), with_condition(doc(0.29, 0.30), "pink_10db", 0.9, 0.5))
    set_latest_run(ws, "noisy")
    config = {"ops": {"production_model": {"config": {"gate_conditions": ["pink_10db"]}}}}
    refused = dg.materialize(
        [production_model], resources=resources, instance=instance, run_config=config, raise_on_error=False
    )
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure).step_failure_data.error.message
    assert "noisy not promoted: hr: WER 0.9 on pink_10db is worse than production 0.5" in failure
    assert load_registry(ws)["production"]["run"] == "good"
    # without the condition gate the same run passes
    assert dg.materialize([production_model], resources=resources, instance=instance).success
    assert load_registry(ws)["production"]["run"] == "noisy"
