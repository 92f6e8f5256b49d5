"""Asset checks on the evaluation: the promotion gates (``evaluation/gates.py``, the promote step's
settings), judged on the run evaluated last."""

import dagster as dg

from whisper_pipeline.assets.common import config_from
from whisper_pipeline.assets.eval_report import eval_report
from whisper_pipeline.evaluation.gates import GateResult, GateSettings
from whisper_pipeline.models import registry
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.workspace import Workspace

GateConfig = config_from("GateConfig", GateSettings)


def _evaluated(ws: Workspace) -> tuple[str, dict]:
    run = registry.last_evaluated_run(ws)
    evals = registry.evaluations(ws, run)
    if not evals:
        raise dg.Failure(description=f"no evaluation documents for run {run or '(none)'}")
    return run, evals


def _gate_check_result(gate: GateResult, run: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=gate.passed,
        metadata={
            "run": run,
            "details": dg.MetadataValue.json(gate.details),
            "failures": dg.MetadataValue.json(gate.failures),
        },
    )


@dg.asset_check(
    asset=eval_report, blocking=True, description="Fine-tuned WER under the ceiling in every evaluated language"
)
def wer_below_ceiling(config: GateConfig, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    run, evals = _evaluated(workspace.get())
    return _gate_check_result(settings_from(config, GateSettings).ceiling(evals), run)


@dg.asset_check(
    asset=eval_report,
    blocking=True,
    description="No WER or CER regression against the production model beyond the margins",
)
def no_regression_vs_production(config: GateConfig, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    run, evals = _evaluated(workspace.get())
    return _gate_check_result(settings_from(config, GateSettings).regression(evals), run)


EVAL_CHECKS = [wer_below_ceiling, no_regression_vs_production]
