"""The ``review_queue`` stage: draft the language's transcript-less audio with the production model (the base
model while there is none), rank the drafts least confident first, and write the queue (CSV) and its page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.data.manifests import write_lines
from whisper_pipeline.io import atomic_path, read_jsonl
from whisper_pipeline.models import registry
from whisper_pipeline.review import pseudo
from whisper_pipeline.review.page import write_page
from whisper_pipeline.review.queue import Candidate, DraftCache, build_queue, read_queue, transcriptless, write_queue
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
    if not registry.is_servable(path):
        raise StageError(f"base model {path}: no model there (config.json and weights); check the base_model resource")
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
    if result.failed and not (result.drafted or result.reused):
        first = result.failed[0]
        raise StageError(
            f"no recording of {lang} could be drafted ({len(result.failed)} failed; "
            f"first: {first['file']}: {first['reason']})",
            metadata={"failed": [f"{f['file']}: {f['reason']}" for f in result.failed]},
        )
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


@dataclass
class PseudoLabels:
    """The pseudo-label manifests a training run adds to its train manifests, and what they hold."""

    manifests: list[Path]
    summary: dict


def held_out_speakers(ws: Workspace, lang: str) -> set[str]:
    """The speakers of the language's validation and test splits."""
    speakers = set()
    for split in ("validation", "test"):
        path = ws.split_manifest(lang, split)
        if path.is_file():
            speakers |= {r.get("speaker") or "" for r in read_jsonl(path)}
    return speakers


def prepare_pseudo_labels(
    ws: Workspace, languages: list[str], min_score: float, log: Log = DEFAULT_LOG
) -> PseudoLabels:
    """For each language with a review queue: its confident drafts (``review/pseudo.py``) as training lines in
    ``ws.pseudo_label_manifest`` with their audio at 16 kHz (``ws.pseudo_label_audio``, named by file and
    content so a changed recording is converted again)."""
    import soundfile as sf

    from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, decode, write_wav16

    manifests, lines, skipped = [], [], {}
    for lang in languages:
        queue = ws.review_queue(lang)
        if not queue.is_file():
            log.warning(f"pseudo_labels: {queue} missing: materialize review_queue for {lang} first")
            continue
        selection = pseudo.select(read_queue(queue), min_score, held_out_speakers(ws, lang))
        mine = []
        for row in selection.chosen:
            wav = ws.pseudo_label_audio(lang, f"{row['file_id']}-{row['sha256'][:12]}")
            if not wav.is_file():
                with atomic_path(wav, suffix=".wav") as tmp:
                    write_wav16(tmp, decode(row["audio"]))
            mine.append(pseudo.pseudo_label_line(row, lang, wav, sf.info(str(wav)).frames / SAMPLE_RATE))
        manifests.append(write_lines(ws.pseudo_label_manifest(lang), mine))
        lines += mine
        for reason, files in selection.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + len(files)
        log.info(f"pseudo_labels: {lang}: {len(mine)} confident draft(s) (score >= {min_score}) used for training")
    return PseudoLabels(manifests, {**pseudo.summary(lines, min_score, True), "skipped": skipped})
