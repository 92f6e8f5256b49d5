"""alignments: word timestamps of every processed file of a language (``alignment/align.py``), and the
training manifests, with recordings over the segment limit cut into segments (``alignment/segment.py``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from whisper_pipeline.alignment.align import AlignJob, AlignmentSettings, align_files, load_existing
from whisper_pipeline.alignment.segment import cut_segments, plan_long_form
from whisper_pipeline.data.manifests import ManifestLine, read_lines, write_lines
from whisper_pipeline.io import sweep_stale_temps, write_jsonl
from whisper_pipeline.parallel import ParallelSettings, held, map_files, once
from whisper_pipeline.stages import DEFAULT_LOG, Log, Progress, StageResult, markdown_table
from whisper_pipeline.workspace import SPLITS, Workspace


def align_stage(
    ws: Workspace,
    lang: str,
    settings: AlignmentSettings,
    load_aligner: Callable[[], Any],
    log: Log = DEFAULT_LOG,
    progress: Progress | None = None,
    parallel: ParallelSettings | None = None,
    gpus_per_task: float = 0,
) -> StageResult:
    """Align each line of ``ws.processed_manifest`` (reusing finished alignments under ``ws.outputs``; the
    aligner comes from ``load_aligner()``, called only when a file needs aligning) → ``ws.alignments``;
    then ``ws.training_manifest`` per split: the lines of at most ``max_segment_s``, plus the segments
    of the longer ones (``ws.segment_audio``).

    The files are aligned longest first in batches of ``settings.batch_size`` (``align_files``: one encoder pass a
    batch), in this process with one aligner, or, when ``parallel`` names a Ray cluster, one task per batch
    (``gpus_per_task`` GPUs each), each Ray worker loading the aligner once (``load_aligner`` must then
    pickle, e.g. ``partial(load_aligner, model_path, device)``)."""
    parallel = parallel or ParallelSettings()
    lines = [l for s in SPLITS for l in read_lines(ws.processed_manifest(lang, s))]
    found = {line.id: load_existing(ws.alignment_outputs(line.id), line.id, line.transcript) for line in lines}
    todo = [line for line in lines if found[line.id] is None]  # the rest was finished by an earlier (killed) run
    # a killed writer's partial files: in the folders of the files still to align (a finished file's are whole)
    folders = {ws.lang_manifests(lang), ws.segment_audio(lang, "-").parent} | {ws.alignment_outputs(l.id) for l in todo}
    if swept := sum(sweep_stale_temps(folder) for folder in folders):
        log.info(f"removed {swept} partial files a killed run left ({lang})")
    todo.sort(key=lambda l: -l.duration)  # batches of similar lengths (align_files: one encoder pass a batch)
    size = max(1, settings.batch_size)
    batches = [todo[k : k + size] for k in range(0, len(todo), size)]
    on_ray = bool(parallel.address())
    outcomes = map_files(
        partial(_align_batch, load_aligner=load_aligner if on_ray else once(load_aligner), language=lang),
        [[(l.audio, l.transcript, l.id, str(ws.alignment_outputs(l.id)), l.duration) for l in b] for b in batches],
        settings=parallel,
        num_gpus=gpus_per_task if on_ray else 0,
        in_this_process=True,
        progress=(
            (lambda n, _: progress(len(lines) - len(todo) + min(n * size, len(todo)), len(lines))) if progress else None
        ),
    )
    for batch, outcome in zip(batches, outcomes):
        if outcome.error is not None:  # align_file reports a file it cannot align; this is the aligner itself
            raise outcome.error
        for line, result in zip(batch, outcome.value):
            found[line.id] = result
    if progress and not todo and lines:
        progress(len(lines), len(lines))
    results, aligned_now = [vars(found[line.id]) for line in lines], len(todo)
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


def _align_batch(batch: list[AlignJob], load_aligner: Callable[[], Any], language: str):
    """``align_files`` for a batch of (audio, transcript, file id, output directory, duration), in whatever process
    ``map_files`` runs it: the aligner is loaded once per process (``held``)."""
    return align_files(held(load_aligner), batch, language, batch_size=len(batch))
