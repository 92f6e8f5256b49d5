"""processed_audio: every split line of a language as 16 kHz mono 16-bit audio (``audio/preprocess.py``),
incremental, with the durations on disk checked against the manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from whisper_pipeline.audio.preprocess import PreprocessOptions, duration_mismatches, preprocess_rows
from whisper_pipeline.data.manifests import ManifestLine, read_lines, write_lines
from whisper_pipeline.io import sweep_stale_temps
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.stages import (
    DEFAULT_LOG,
    Log,
    Progress,
    StageError,
    StageResult,
    markdown_list,
    markdown_table,
)
from whisper_pipeline.workspace import SPLITS, Workspace


def preprocess_stage(
    ws: Workspace,
    lang: str,
    options: PreprocessOptions,
    parallel: ParallelSettings | None = None,
    log: Log = DEFAULT_LOG,
    progress_for: Callable[[str], Progress] | None = None,
) -> StageResult:
    """Convert the split lines of ``lang`` (``ws.split_manifest``) into ``ws.processed_audio`` files and
    ``ws.processed_manifest``; only new or changed lines are converted. ``progress_for(label)`` gives
    the progress callback of each split; ``parallel`` says where the files are converted (processes, Ray)."""
    if problem := options.format_problem():
        raise StageError(f"processed_audio: {problem}")
    swept = sweep_stale_temps(ws.processed_audio_dir(lang)) + sweep_stale_temps(ws.lang_manifests(lang))
    if swept:
        log.info(f"removed {swept} partial files a killed run left ({lang})")
    totals = {"converted": 0, "files": 0, "seconds": 0.0, "source_seconds": 0.0}
    all_lines: list[ManifestLine] = []
    all_errors: list[str] = []
    for split in SPLITS:
        rows = read_lines(ws.split_manifest(lang, split))
        target = ws.processed_manifest(lang, split)
        previous = {r.id: r for r in read_lines(target)} if target.is_file() else {}
        lines, converted, errors = preprocess_rows(
            rows,
            lambda r: ws.processed_audio(lang, r.id),
            previous,
            options,
            progress=progress_for(f"processed {split} ({lang})") if progress_for else None,
            parallel=parallel or ParallelSettings(),
        )
        write_lines(target, lines)
        totals["converted"] += converted
        totals["files"] += len(lines)
        totals["seconds"] += sum(l.duration for l in lines)
        totals["source_seconds"] += sum(l.manifest_duration for l in lines)
        all_lines += lines
        all_errors += errors
    for e in all_errors:
        log.error(e)
    mismatches = duration_mismatches(all_lines)
    if mismatches:
        raise StageError(
            f"{len(mismatches)} processed files do not match the manifest duration",
            metadata={"mismatches": markdown_list(mismatches)},
        )
    flagged = [{"id": l.id, "flags": "; ".join(l.preprocess_flags)} for l in all_lines if l.preprocess_flags]
    return StageResult(
        metadata={
            "files": totals["files"],
            "converted_this_run": totals["converted"],
            "reused": totals["files"] - totals["converted"],
            "failed": len(all_errors),
            "hours": round(totals["seconds"] / 3600, 4),
            "silence_trimmed_hours": round((totals["source_seconds"] - totals["seconds"]) / 3600, 4),
            "flagged": markdown_table(flagged, ["id", "flags"]),
            "errors": markdown_list(all_errors),
            "directory": Path(ws.processed_audio_dir(lang)),
        }
    )
