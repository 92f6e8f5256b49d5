"""The ``production_model`` stage: promote a run in the registry, only if its evaluation passes the gates
(WER ceiling per language, no regression against the current production model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.evaluation.gates import GateSettings
from whisper_pipeline.models import registry
from whisper_pipeline.stages import DEFAULT_LOG, Log, Markdown, StageError, StageResult
from whisper_pipeline.workspace import Workspace

SERVE_HINT = Markdown(
    "`python -m whisper_pipeline.serving --preload production` (or `make serve`); `model=production` in requests"
)


@dataclass
class PromoteSettings(GateSettings):
    """The gates, and which run to promote."""

    run_name: str = field(default="", metadata={"help": "Run to promote; empty = the latest trained run"})


def promote_stage(ws: Workspace, settings: PromoteSettings, log: Log = DEFAULT_LOG) -> StageResult:
    """Judge ``settings.run_name`` (default: the latest run) by the gates on every evaluated language;
    promote it when both pass, else record the refusal in the registry and raise ``StageError`` with the failures
    (production is untouched)."""
    run = settings.run_name or registry.latest_run(ws)
    evals = registry.evaluations(ws, run)
    if not evals:
        raise StageError(f"run {run or '(none)'} has no evaluation: materialize eval_report first")
    ceiling, regression = settings.ceiling(evals), settings.regression(evals)
    if not (ceiling.passed and regression.passed):
        message = f"{run} not promoted: " + "; ".join(ceiling.failures + regression.failures)
        registry.record_refusal(ws, run, message)  # on record next to the promotions; production untouched
        raise StageError(
            message,
            metadata={"ceiling": ceiling.details, "regression": regression.details},
        )
    ct2 = export_for_serving(ws, run, log)
    entry = registry.promote(
        ws,
        run,
        {l: d["models"]["finetuned"]["wer"] for l, d in evals.items()},
        reason=f"gates passed (ceiling {settings.wer_ceiling}, WER margin {settings.regression_margin}, "
        f"CER margin {settings.cer_regression_margin}"
        + (f", judged on {', '.join(settings.gate_conditions)} too" if settings.gate_conditions else "")
        + ")",
    )
    log.info(f"{run} is now the production model; a running service picks it up on its next request")
    return StageResult(
        metadata={
            "run": run,
            "languages": sorted(evals),
            "wer": entry["wer"],
            "registry": ws.registry,
            "serve": SERVE_HINT,
            **({"ct2_export": ct2} if ct2 else {}),
        }
    )


def export_for_serving(ws: Workspace, run: str, log: Log = DEFAULT_LOG) -> Path | None:
    """The run's CTranslate2 export (``Workspace.run_ct2``), so the service decodes production with
    faster-whisper. Written before the registry names the run, so a service never loads the new
    production on the slower backend; a failed export is a warning (the service then uses
    ``transformers``), not a refused promotion."""
    from whisper_pipeline.training.package import export_ct2

    if not registry.is_servable(ws.run_dir(run)):
        return None  # nothing to export (a registry-only run, as in tests of the gates)
    try:
        return export_ct2(ws.run_dir(run), quantization="float16", target=ws.run_ct2(run))
    except Exception as exc:  # noqa: BLE001 - the model itself is fine; serving falls back to transformers
        log.warning(f"{run}: no CTranslate2 export for serving ({type(exc).__name__}: {exc})")
        return None
