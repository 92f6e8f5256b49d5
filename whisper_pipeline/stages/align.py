"""alignments: word timestamps of every processed file of a language (``alignment/align.py``), and the
training manifests, with recordings over the segment limit cut into segments (``alignment/segment.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from whisper_pipeline.alignment.align import AlignmentSettings, align_file, load_existing
from whisper_pipeline.alignment.segment import cut_segments, plan_long_form
from whisper_pipeline.data.manifests import ManifestLine, read_lines, write_lines
from whisper_pipeline.io import write_jsonl
from whisper_pipeline.stages import DEFAULT_LOG, Log, Progress, StageResult, markdown_table
from whisper_pipeline.workspace import SPLITS, Workspace


def align_stage(
    ws: Workspace,
    lang: str,
    settings: AlignmentSettings,
    load_aligner: Callable[[], Any],
    log: Log = DEFAULT_LOG,
    progress: Progress | None = None,
) -> StageResult:
    """Align each line of ``ws.processed_manifest`` (reusing finished alignments under ``ws.outputs``; the
    aligner comes from ``load_aligner()``, called only when a file needs aligning) → ``ws.alignments``;
    then ``ws.training_manifest`` per split: the lines of at most ``max_segment_s``, plus the segments
    of the longer ones (``ws.segment_audio``)."""
    lines = [l for s in SPLITS for l in read_lines(ws.processed_manifest(lang, s))]
    results, aligner, aligned_now = [], None, 0
    for n, line in enumerate(lines, 1):
        file_dir = ws.alignment_outputs(line.id)
        result = load_existing(file_dir, line.id, line.transcript)  # finished by an earlier (killed) run
        if result is None:
            if aligner is None:
                aligner = load_aligner()
            result = align_file(aligner, line.audio, line.transcript, lang, line.id, file_dir, line.duration)
            aligned_now += 1
        results.append(vars(result))
        if progress:
            progress(n, len(lines))
    write_jsonl(ws.alignments(lang), results)

    by_id = {r["file_id"]: r for r in results}
    ready: dict[str, list[ManifestLine]] = {s: [] for s in SPLITS}
    long_form, unsegmented = [], []
    for line in lines:
        if line.duration <= settings.max_segment_s:
            ready[line.split].append(line)
            continue
        try:
            segments, how = plan_long_form(line, by_id[line.id], settings.max_segment_s)
        except ValueError as exc:
            unsegmented.append({"file_id": line.id, "reason": str(exc)})
            log.warning(f"{line.id}: {line.duration:.0f}s recording left out of training: {exc}")
            continue
        pieces = cut_segments(line, segments, lambda seg_id: ws.segment_audio(lang, seg_id))
        ready[line.split] += pieces
        long_form.append({"file_id": line.id, "duration": line.duration, "segments": len(pieces), "by": how})
    for split, split_lines in ready.items():
        write_lines(ws.training_manifest(lang, split), split_lines)

    aligned = sum(r["status"] == "aligned" for r in results)
    flagged = [r for r in results if r["status"] != "aligned"]
    coverage = aligned / len(results) if results else 0.0
    if coverage < settings.min_coverage:
        log.warning(f"{lang}: timestamps for only {coverage:.0%} of files (target ≥ {settings.min_coverage:.0%})")
    return StageResult(
        metadata={
            "files": len(results),
            "aligned_this_run": aligned_now,
            "reused": len(results) - aligned_now,
            "aligned": aligned,
            "coverage": float(round(coverage, 4)),
            "flagged": markdown_table(flagged, ["file_id", "status", "reason"]),
            "long_form_files": len(long_form),
            "segments_from_long_form": sum(l["segments"] for l in long_form),
            "long_form": markdown_table(long_form, ["file_id", "duration", "segments", "by"]),
            "long_form_left_out": markdown_table(unsegmented, ["file_id", "reason"]),
            "training_manifests": Path(ws.training_manifest(lang, "train").parent),
            "outputs": Path(ws.outputs),
        }
    )
