"""The ``review_queue`` stage: draft the language's transcript-less audio with the production model (the base
model while there is none), rank the drafts least confident first, and write the queue (CSV) and its page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from whisper_pipeline.io import read_jsonl
from whisper_pipeline.models import registry
from whisper_pipeline.review.page import write_page
from whisper_pipeline.review.queue import Candidate, DraftCache, build_queue, transcriptless, write_queue
from whisper_pipeline.stages import DEFAULT_LOG, Log, Markdown, Progress, StageError, StageResult, markdown_table
from whisper_pipeline.workspace import Workspace

LEAST_CONFIDENT_SHOWN = 5


@dataclass
class ReviewSettings:
    """Which model drafts, and how it decodes."""

    model: str = field(
        default="production",
        metadata={"help": "production (the base model while there is none, said in the metadata) or base"},
    )
    num_beams: int = field(default=1, metadata={"help": "Beam size of the drafts (1 = greedy, the fastest)"})
    cpu_threads: int = field(default=0, metadata={"help": "CTranslate2 threads on CPU; 0 = every core allowed"})


@dataclass(frozen=True)
class DraftModel:
    """The model that drafts: its directory, a cache key that changes when its weights do, and a label."""

    path: str
    key: str
    label: str


def drafting_model(ws: Workspace, settings: ReviewSettings, base_model: Callable[[], str]) -> DraftModel:
    """The production run when there is one (and ``settings.model`` is ``production``), else the base model
    (``base_model()``, resolved only then). The key names the model and when its ``config.json`` was written,
    so a retrained run of the same name drafts afresh."""
    if settings.model not in ("production", "base"):
        raise StageError(f"review_queue model {settings.model!r}: use production or base")
    production = registry.production_servable(ws) if settings.model == "production" else None
    if production is not None:
        run, path = production
        return DraftModel(path, f"run:{run}@{registry.model_created(path)}", f"production model {run}")
    path = base_model()
    why = "no production model yet" if settings.model == "production" else "asked for"
    return DraftModel(path, f"base:{path}@{registry.model_created(path)}", f"base model ({why})")


def review_stage(
    ws: Workspace,
    lang: str,
    settings: ReviewSettings,
    base_model: Callable[[], str],
    device: str,
    *,
    log: Log = DEFAULT_LOG,
    progress: Progress | None = None,
) -> StageResult:
    """Read ``ws.inventory(lang)``, draft each transcript-less recording not yet drafted by this model
    (``ws.review_drafts``), write ``ws.review_queue(lang)`` and ``ws.review_page(lang)``."""
    inventory_path = ws.inventory(lang)
    if not inventory_path.is_file():
        raise StageError(f"{inventory_path} missing: materialize raw_audio for {lang} first")
    selection = transcriptless(read_jsonl(inventory_path))
    for name in selection.awaiting_intake:
        log.info(f"{name}: a transcript is saved next to it; the next raw_audio run takes it in")
    model = drafting_model(ws, settings, base_model) if selection.candidates else None
    cache = DraftCache(ws.review_drafts(lang))
    engine = None

    def transcribe(c: Candidate) -> dict:
        nonlocal engine
        from whisper_pipeline.audio.ffmpeg import decode
        from whisper_pipeline.serving.engine import TranscriptionEngine

        if engine is None:  # loaded only when something needs drafting
            engine = TranscriptionEngine(device, backend="ct2", cpu_threads=settings.cpu_threads or None)
        return engine.transcribe(model.path, decode(c.audio), lang, num_beams=settings.num_beams)

    result = build_queue(selection.candidates, cache, model.key if model else "", transcribe, progress)
    cache.save({c.sha256 for c in selection.candidates})
    for failure in result.failed:
        log.warning(f"{failure['file']}: not drafted: {failure['reason']}")
    label = model.label if model else "no model needed (nothing to draft)"
    queue = write_queue(ws.review_queue(lang), result.rows)
    page = write_page(result.rows, ws.review_page(lang), lang, label, ws.uploads)
    shown = [{**r, "score": f"{r['score']:.3f}", "draft": r["draft"][:80]} for r in result.rows]
    return StageResult(
        metadata={
            "files": len(result.rows),
            "hours": round(sum(r["duration_s"] for r in result.rows) / 3600, 4),
            "drafted_this_run": result.drafted,
            "reused_drafts": result.reused,
            "failed": len(result.failed),
            "awaiting_intake": len(selection.awaiting_intake),
            "duplicates_skipped": len(selection.duplicates),
            "model": label,
            "queue": queue,
            "page": page,
            "least_confident": markdown_table(
                shown, ["rank", "file", "duration_s", "score", "draft", "transcript_path"], LEAST_CONFIDENT_SHOWN
            ),
            "failures": markdown_table(result.failed, ["file", "reason"]) if result.failed else Markdown("_none_"),
        }
    )
