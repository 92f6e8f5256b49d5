import json

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.eval_report import eval_report
from whisper_pipeline.evaluation.gates import regression_gate, wer_ceiling_gate
from whisper_pipeline.models.registry import promote
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES, Workspace


class GateConfig(dg.Config):
    wer_ceiling: float = Field(default=0.8, description="Highest acceptable fine-tuned WER, any language")
    wer_ceiling_per_language: dict[str, float] = Field(default={}, description="Overrides per language, e.g. {sr: 0.5}")
    regression_margin: float = Field(default=0.02, description="How much worse than production (WER) is tolerated")
    cer_regression_margin: float = Field(
        default=0.02, description="How much worse than production (CER) is tolerated; negative = CER not judged"
    )

    def cer_margin(self) -> float | None:
        return None if self.cer_regression_margin < 0 else self.cer_regression_margin


def latest_run(ws: Workspace) -> str:
    latest = ws.models / "whisper" / "LATEST"
    return latest.read_text().strip() if latest.is_file() else ""


def last_evaluated_run(ws: Workspace) -> str:
    marker = ws.manifests / "eval" / "LAST_EVALUATED"
    return marker.read_text().strip() if marker.is_file() else latest_run(ws)


def evaluations(ws: Workspace, run: str) -> dict[str, dict]:
    """The per-language evaluation documents of a run (languages not evaluated are absent)."""
    return {
        l: json.loads(p.read_text()) for l in LANGUAGES if (p := ws.manifests / "eval" / run / f"{l}.json").is_file()
    }


class PromoteConfig(GateConfig):
    run_name: str = Field(default="", description="Run to promote; empty = the latest trained run")


@dg.asset(group_name="evaluation", deps=[eval_report], kinds={"python"})
def production_model(
    context: dg.AssetExecutionContext, config: PromoteConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Marks a run as the production model in ``models/registry.json``, only if its evaluation passes the
    gates (WER ceiling per language, no regression against the current production model)."""
    ws = workspace.get()
    run = config.run_name or latest_run(ws)
    evals = evaluations(ws, run)
    if not evals:
        raise dg.Failure(description=f"run {run or '(none)'} has no evaluation: materialize eval_report first")
    ceiling = wer_ceiling_gate(evals, config.wer_ceiling, config.wer_ceiling_per_language)
    regression = regression_gate(evals, config.regression_margin, config.cer_margin())
    if not (ceiling.passed and regression.passed):
        raise dg.Failure(
            description=f"{run} not promoted: " + "; ".join(ceiling.failures + regression.failures),
            metadata={
                "ceiling": dg.MetadataValue.json(ceiling.details),
                "regression": dg.MetadataValue.json(regression.details),
            },
        )
    entry = promote(
        ws.models / "registry.json",
        run,
        str(ws.run_dir(run)),
        {l: d["models"]["finetuned"]["wer"] for l, d in evals.items()},
        reason=f"gates passed (ceiling {config.wer_ceiling}, WER margin {config.regression_margin}, "
        f"CER margin {config.cer_regression_margin})",
    )
    context.log.info(f"{run} is now the production model; a running service picks it up on its next request")
    return dg.MaterializeResult(
        metadata={
            "run": run,
            "languages": sorted(evals),
            "wer": dg.MetadataValue.json(entry["wer"]),
            "registry": dg.MetadataValue.path(str(ws.models / "registry.json")),
            "serve": dg.MetadataValue.md(
                "`python -m whisper_pipeline.serving --preload production` "
                "(or `make serve`); `model=production` in requests"
            ),
        }
    )
