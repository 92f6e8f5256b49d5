"""Source audio → 16 kHz mono 16-bit WAV, in parallel, skipping files already converted."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, decode, write_wav16
from whisper_pipeline.io import atomic_path

DURATION_TOLERANCE_S = 0.05


def convert_one(source: str, target: str) -> float:
    """Convert one file atomically; return the processed duration in seconds."""
    audio = decode(source, SAMPLE_RATE)
    with atomic_path(target, suffix=".wav") as tmp:
        write_wav16(tmp, audio)
    return round(audio.size / SAMPLE_RATE, 3)


def processed_duration(path: str | Path) -> float:
    return round(sf.info(str(path)).frames / SAMPLE_RATE, 3)


def preprocess_rows(rows: list[dict], target_for: Callable[[dict], Path], previous: dict[str, dict],
                    workers: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> tuple[list[dict], int]:
    """Convert every manifest line; returns (processed lines, number converted this time).

    A line is reused when the processed file exists and was made from the same source content
    (same SHA-256), so re-runs and resumed runs only convert what changed.
    """
    out: dict[str, dict] = {}
    todo = []
    for r in rows:
        target = target_for(r)
        prev = previous.get(r["id"])
        if prev and prev.get("sha256") == r["sha256"] and target.is_file():
            out[r["id"]] = prev
        else:
            todo.append((r, target))
    workers = workers or max(1, min(len(todo), os.cpu_count() or 1))
    done = len(out)
    if todo:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [(r, target, pool.submit(convert_one, r["audio"], str(target))) for r, target in todo]
            for r, target, fut in futures:
                duration = fut.result()
                out[r["id"]] = {**r, "audio": str(target), "source_audio": r["audio"], "duration": duration,
                                "manifest_duration": r["duration"]}
                done += 1
                if progress:
                    progress(done, len(rows))
    return [out[r["id"]] for r in rows], len(todo)


def duration_mismatches(lines: list[dict]) -> list[str]:
    """Processed files whose length on disk differs from the manifest's duration."""
    bad = []
    for line in lines:
        actual = processed_duration(line["audio"])
        if abs(actual - line["manifest_duration"]) > DURATION_TOLERANCE_S:
            bad.append(f"{line['audio']}: {actual:.3f}s on disk vs {line['manifest_duration']:.3f}s in manifest")
    return bad
