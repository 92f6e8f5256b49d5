"""The ``eval_report`` stage: score a trained run (and the base and production models) on one language's
held-out test speakers, record the evaluation, and rebuild the run's dashboard."""

from __future__ import annotations

import base64
from pathlib import Path

from whisper_pipeline.data.manifests import ManifestLine, read_lines
from whisper_pipeline.evaluation.conditions import babble_candidates
from whisper_pipeline.evaluation.dashboard import build_dashboard, summary_png_path
from whisper_pipeline.evaluation.report import SCHEMA_VERSION, EvalSettings, evaluate_models
from whisper_pipeline.models import registry
from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.stages import DEFAULT_LOG, Log, Markdown, StageError, StageResult
from whisper_pipeline.workspace import LANGUAGES, Workspace


def models_to_compare(
    ws: Workspace, run: str, settings: EvalSettings, base_source: str, production: dict | None
) -> dict[str, str]:
    """Label → model path: the run (``finetuned``), the base model when asked, and the ``production``
    registry entry when asked, when it is another run, and when its directory still exists."""
    models = {"finetuned": str(ws.run_dir(run))}
    if settings.compare_base:
        models["base"] = resolve_model_source(base_source, ws.base_model_dir)
    if settings.compare_production and production and production["run"] != run and Path(production["path"]).is_dir():
        models["production"] = production["path"]
    return models


def evaluate_stage(
    ws: Workspace,
    lang: str,
    settings: EvalSettings,
    base_source: str = BUILTIN_BASE,
    device: str | None = None,
    log: Log = DEFAULT_LOG,
    parallel: ParallelSettings | None = None,
) -> StageResult:
    """Evaluate ``settings.run_name`` (default: the latest run) on ``lang``'s test split; ``base_source``
    is the base model (``builtin:whisper-base``, a directory or a hub id); ``parallel`` may send each model's
    transcription to a Ray cluster."""
    run = settings.run_name or registry.latest_run(ws)
    if not registry.has_model_config(ws, run):
        raise StageError(f"No trained model for run {run or '(latest)'}: materialize checkpoint first")
    test_lines = read_lines(ws.ready_manifest(lang, "test"))
    if not test_lines:
        raise StageError(f"{lang}: the test split is empty (needs at least 2 speakers)")
    production = registry.production_run(ws)
    models = models_to_compare(ws, run, settings, base_source, production)
    logged: dict[str, int] = {}

    def progress(label: str, done: int, total: int) -> None:
        if done == total or done - logged.get(label, 0) >= max(1, total // 5):
            logged[label] = done
            log.info(f"{label} transcribed {done}/{total} ({lang})")

    babble_from = babble_sources(ws, lang, test_lines) if settings.conditions else []
    result = evaluate_models(
        models,
        test_lines,
        lang,
        settings.batch_size,
        settings.num_beams,
        device,
        progress,
        conditions=list(settings.conditions),
        babble_from=babble_from,
        parallel=parallel,
    )
    result["run"] = run
    report = registry.record_evaluation(ws, run, lang, result)

    evals = registry.evaluations(ws, run)
    stale = sorted(l for l, d in evals.items() if d.get("schema_version") != SCHEMA_VERSION)
    if stale:
        log.warning(f"not on the dashboard until re-evaluated (older evaluation format): {', '.join(stale)}")
    page = build_dashboard({l: d for l, d in evals.items() if l not in stale}, run, ws.report_dir(run))
    png = base64.b64encode(summary_png_path(ws.report_dir(run)).read_bytes()).decode()

    ft = result["models"]["finetuned"]
    meta = {
        "dashboard": page,
        "summary": Markdown(f"![WER per language](data:image/png;base64,{png})"),
        "run": run,
        "test_utterances": result["utterances"],
        "wer": _float(ft["wer"]),
        "wer_ci95": list(ft["wer_ci95"] or []),
        "cer": _float(ft["cer"]),
        "errors": {k: ft[k] for k in ("substitutions", "deletions", "insertions")},
        "wer_by_speaker": {k: v["wer"] for k, v in ft["by_speaker"].items()},
        "comparisons": result["comparisons"],
        "real_time_factor": float(ft["real_time_factor"] or 0.0),
        "report": report,
    }
    if "base" in result["models"]:
        base = result["models"]["base"]
        meta["base_wer"] = _float(base["wer"])
        meta["base_cer"] = _float(base["cer"])
        meta["wer_change"] = float(round(ft["wer"] - base["wer"], 4))
    if "production" in result["models"]:
        meta["production_run"] = production["run"]
        meta["production_wer"] = _float(result["models"]["production"]["wer"])
    meta.update(condition_metadata(result))
    if result.get("conditions"):
        skipped = {n: c["skipped"] for n, c in result["conditions"].items() if "skipped" in c}
        log.info(
            f"{lang}: {len(result['conditions']) - len(skipped)} degraded conditions scored in "
            f"{result['conditions_seconds']} s" + "".join(f"; {name} skipped: {why}" for name, why in skipped.items())
        )
    log.info(
        f"{lang}: WER {ft['wer']} CER {ft['cer']}" + (f" (base WER {meta['base_wer']})" if "base_wer" in meta else "")
    )
    return StageResult(metadata=meta)


def babble_sources(ws: Workspace, lang: str, test_lines: list[ManifestLine]) -> list[ManifestLine]:
    """Other test speakers' utterances for babble (``evaluation.conditions.babble_candidates``): this
    language's, or the other languages' test speakers when this test split has only one; never a training
    speaker of any language."""

    def lines(l: str, split: str) -> list[ManifestLine]:
        path = ws.ready_manifest(l, split)
        return read_lines(path) if path.is_file() else []

    training = {line.speaker for l in LANGUAGES for line in lines(l, "train")}
    others = [line for l in LANGUAGES if l != lang for line in lines(l, "test")]
    return babble_candidates(test_lines, others, training)


def condition_metadata(result: dict) -> dict:
    """The degraded-condition WERs as asset metadata: ``condition_wer`` (condition → model → WER, a table in
    the UI) and one float per condition for the fine-tuned model (``wer_<condition>``, plotted over runs)."""
    conditions = result.get("conditions") or {}
    if not conditions:
        return {}
    table = {
        name: {label: s["wer"] for label, s in c["models"].items()} if "models" in c else {"skipped": c["skipped"]}
        for name, c in conditions.items()
    }
    meta: dict = {"condition_wer": table, "conditions_seconds": float(result.get("conditions_seconds") or 0.0)}
    for name, c in conditions.items():
        if "models" in c and "finetuned" in c["models"]:
            meta[f"wer_{name}"] = _float(c["models"]["finetuned"]["wer"])
    return meta


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)
