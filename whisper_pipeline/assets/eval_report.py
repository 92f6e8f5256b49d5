import base64
import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.checkpoint import checkpoint
from whisper_pipeline.assets.common import language_partitions
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.data.manifests import combine_json
from whisper_pipeline.evaluation.dashboard import build_dashboard
from whisper_pipeline.evaluation.report import SCHEMA_VERSION, evaluate_models
from whisper_pipeline.io import read_jsonl, write_json, write_text
from whisper_pipeline.models.registry import production_run
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES


class EvalConfig(dg.Config):
    run_name: str = Field(default="", description="Run to evaluate; empty = the latest trained run")
    batch_size: int = 8
    num_beams: int = 1
    compare_base: bool = Field(default=True, description="Also score the base model on the same test split")
    compare_production: bool = Field(default=True, description="Also score the production model (models/registry.json)")


@dg.asset(
    partitions_def=language_partitions,
    group_name="evaluation",
    deps=[checkpoint, processed_audio],
    kinds={"pytorch"},
    op_tags={"compute": "gpu"},
    pool="gpu",
)
def eval_report(
    context: dg.AssetExecutionContext,
    config: EvalConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """WER/CER (jiwer) of the fine-tuned and base models on this language's held-out test speakers."""
    lang = context.partition_key
    ws = workspace.get()
    latest = ws.models / "whisper" / "LATEST"
    run = config.run_name or (latest.read_text().strip() if latest.is_file() else "")
    if not run or not (ws.run_dir(run) / "config.json").is_file():
        raise dg.Failure(description=f"No trained model for run {run or '(latest)'}: materialize checkpoint first")
    test_lines = read_jsonl(ws.ready_manifest(lang, "test"))
    if not test_lines:
        raise dg.Failure(description=f"{lang}: the test split is empty (needs at least 2 speakers)")
    models = {"finetuned": str(ws.run_dir(run))}
    if config.compare_base:
        models["base"] = base_model.resolve(ws)
    production = production_run(ws.models / "registry.json")
    if config.compare_production and production and production["run"] != run and Path(production["path"]).is_dir():
        models["production"] = production["path"]
    progress_state: dict[str, int] = {}

    def progress(label: str, done: int, total: int) -> None:
        if done == total or done - progress_state.get(label, 0) >= max(1, total // 5):
            progress_state[label] = done
            context.log.info(f"{label} transcribed {done}/{total} ({lang})")

    result = evaluate_models(models, test_lines, lang, config.batch_size, config.num_beams, compute.pick(), progress)
    result["run"] = run
    part = ws.manifests / "eval" / run / f"{lang}.json"
    write_json(part, result)
    write_text(ws.manifests / "eval" / "LAST_EVALUATED", run + "\n")  # what the gate checks look at
    combine_json(
        {l: ws.manifests / "eval" / run / f"{l}.json" for l in LANGUAGES},
        ws.manifests / f"eval_{run}.json",
        extra={"run": run},
    )
    evals = {
        l: json.loads(p.read_text()) for l in LANGUAGES if (p := ws.manifests / "eval" / run / f"{l}.json").is_file()
    }
    stale = sorted(l for l, d in evals.items() if d.get("schema_version") != SCHEMA_VERSION)
    if stale:
        context.log.warning(f"not on the dashboard until re-evaluated (older evaluation format): {', '.join(stale)}")
    page = build_dashboard({l: d for l, d in evals.items() if l not in stale}, run, ws.reports / run)
    png = base64.b64encode((ws.reports / run / "summary.png").read_bytes()).decode()
    ft = result["models"]["finetuned"]
    meta = {
        "dashboard": dg.MetadataValue.path(str(page)),
        "summary": dg.MetadataValue.md(f"![WER per language](data:image/png;base64,{png})"),
        "run": run,
        "test_utterances": result["utterances"],
        "wer": dg.MetadataValue.float(ft["wer"]),
        "wer_ci95": dg.MetadataValue.json(list(ft["wer_ci95"] or [])),
        "cer": dg.MetadataValue.float(ft["cer"]),
        "errors": dg.MetadataValue.json({k: ft[k] for k in ("substitutions", "deletions", "insertions")}),
        "wer_by_speaker": dg.MetadataValue.json({k: v["wer"] for k, v in ft["by_speaker"].items()}),
        "comparisons": dg.MetadataValue.json(result["comparisons"]),
        "real_time_factor": dg.MetadataValue.float(ft["real_time_factor"] or 0.0),
        "report": dg.MetadataValue.path(str(ws.manifests / f"eval_{run}.json")),
    }
    if "base" in result["models"]:
        base = result["models"]["base"]
        meta["base_wer"] = dg.MetadataValue.float(base["wer"])
        meta["base_cer"] = dg.MetadataValue.float(base["cer"])
        meta["wer_change"] = dg.MetadataValue.float(round(ft["wer"] - base["wer"], 4))
    if "production" in result["models"]:
        meta["production_run"] = production["run"]
        meta["production_wer"] = dg.MetadataValue.float(result["models"]["production"]["wer"])
    context.log.info(
        f"{lang}: WER {ft['wer']} CER {ft['cer']}"
        + (f" (base WER {meta['base_wer'].value})" if "base_wer" in meta else "")
    )
    return dg.MaterializeResult(metadata=meta)
