"""Benchmark: a full intake of N files vs. an incremental one after adding a single file.

Files are real audio on disk (distinct synthetic tone sequences with noise, written as WAV/FLAC/MP3
so ffmpeg decodes several codecs); every run goes through ffprobe/ffmpeg exactly as the pipeline does.

    .venv/bin/python bench/intake_incremental.py --files 500
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from whisper_pipeline.data.discovery import discover, find_orphan_transcripts
from whisper_pipeline.data.inventory import IntakeCache, build_inventory


def make_corpus(root: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        speaker = root / "hr" / f"spk{i % 50:02d}"
        speaker.mkdir(parents=True, exist_ok=True)
        seconds = rng.uniform(1.5, 8.0)
        t = np.arange(int(16000 * seconds)) / 16000
        freqs = rng.uniform(150, 2500, size=6)
        audio = sum(
            np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * np.exp(-((t - rng.uniform(0, seconds)) ** 2)) for f in freqs
        )
        audio = 0.2 * audio / np.max(np.abs(audio)) + 0.005 * rng.standard_normal(t.size)
        path = speaker / f"utt{i:05d}.wav"
        sf.write(path, audio, 16000)
        if i % 10 == 1:  # a few compressed files too
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), str(path.with_suffix(".mp3"))], check=True)
            path.unlink()
            path = path.with_suffix(".mp3")
        path.with_suffix(".txt").write_text("Ovo je rečenica za mjerenje brzine unosa podataka.")


def run_intake(uploads: Path, cache_path: Path) -> tuple[float, IntakeCache, int]:
    started = time.perf_counter()
    items, _ = discover(uploads, "hr")
    cache = IntakeCache(cache_path)
    rows = build_inventory(items, uploads, cache, orphan_transcripts=find_orphan_transcripts(uploads, "hr", items))
    cache.save()
    return time.perf_counter() - started, cache, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uploads, cache_path = Path(tmp) / "uploads", Path(tmp) / "cache.json"
        make_corpus(uploads, args.files)
        full_s, full_cache, n_full = run_intake(uploads, cache_path)
        unchanged_s, unchanged_cache, _ = run_intake(uploads, cache_path)
        extra = uploads / "hr" / "spk_new"
        extra.mkdir()
        make_corpus(Path(tmp) / "one", 1, seed=99)
        shutil.copy(next((Path(tmp) / "one" / "hr" / "spk00").glob("*.wav")), extra / "new.wav")
        (extra / "new.txt").write_text("Nova datoteka.")
        incr_s, incr_cache, n_incr = run_intake(uploads, cache_path)
    rows = [
        ("full run (baseline)", n_full, full_cache.decoded, full_s),
        ("re-run, nothing changed", n_full, unchanged_cache.decoded, unchanged_s),
        ("re-run, one file added", n_incr, incr_cache.decoded, incr_s),
    ]
    print(f"\nintake of {args.files} files (hr partition)\n")
    print(f"| {'run':<26} | {'files':>6} | {'decoded':>7} | {'seconds':>8} | {'vs full':>8} |")
    print(f"|{'-' * 28}|{'-' * 8}|{'-' * 9}|{'-' * 10}|{'-' * 10}|")
    for name, n, decoded, seconds in rows:
        print(f"| {name:<26} | {n:>6} | {decoded:>7} | {seconds:>8.2f} | {seconds / full_s:>8.4f} |")


if __name__ == "__main__":
    main()
