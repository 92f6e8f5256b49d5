"""Asset checks on the evaluation: the promotion gates, judged on the run evaluated last."""

import dagster as dg

from whisper_pipeline.assets.eval_report import eval_report
from whisper_pipeline.assets.promote import GateConfig, evaluations, last_evaluated_run
from whisper_pipeline.evaluation.gates import regression_gate, wer_ceiling_gate
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import Workspace


def _gate_check_result(gate, run: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=gate.passed,
        metadata={
            "run": run,
            "details": dg.MetadataValue.json(gate.details),
            "failures": dg.MetadataValue.json(gate.failures),
        },
    )


def _evaluated(ws: Workspace) -> tuple[str, dict]:
    run = last_evaluated_run(ws)
    evals = evaluations(ws, run)
    if not evals:
        raise dg.Failure(description=f"no evaluation documents for run {run or '(none)'}")
    return run, evals


@dg.asset_check(
    asset=eval_report, blocking=True, description="Fine-tuned WER under the ceiling in every evaluated language"
)
def wer_below_ceiling(config: GateConfig, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    run, evals = _evaluated(workspace.get())
    return _gate_check_result(wer_ceiling_gate(evals, config.wer_ceiling, config.wer_ceiling_per_language), run)


@dg.asset_check(
    asset=eval_report,
    blocking=True,
    description="No WER or CER regression against the production model beyond the margins",
)
def no_regression_vs_production(config: GateConfig, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    run, evals = _evaluated(workspace.get())
    return _gate_check_result(regression_gate(evals, config.regression_margin, config.cer_margin()), run)


EVAL_CHECKS = [wer_below_ceiling, no_regression_vs_production]
