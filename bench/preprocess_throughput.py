"""Benchmark: preprocessing throughput in × real time per core, against a naive baseline in the same run.

Baseline: ``librosa.load(path, sr=16000)`` + ``soundfile.write`` per file, one process (what a quick
script does). Ours: ffmpeg decode at the native rate + soxr VHQ resampling + silero-VAD trimming
(+ optionally loudness normalization), with 1 worker and with one worker per core.

    .venv/bin/python bench/preprocess_throughput.py --speakers 4 --sentences 5
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import soundfile as sf

from whisper_pipeline.audio.inspect import sha256_file
from whisper_pipeline.audio.preprocess import PreprocessOptions, preprocess_rows
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.sample_data import generate_corpus


def naive(files: list[Path], out: Path) -> None:
    import librosa

    for i, f in enumerate(files):
        audio, _ = librosa.load(str(f), sr=16000)
        sf.write(out / f"{i}.wav", audio, 16000, subtype="PCM_16")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--sentences", type=int, default=5)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_corpus(tmp / "uploads", speakers=args.speakers, sentences_per_speaker=args.sentences, bad_files=False)
        files = sorted(p for p in (tmp / "uploads").rglob("*") if p.suffix in {".wav", ".flac", ".mp3", ".ogg", ".m4a"})
        rows = [
            ManifestLine(
                id=f"f{i}",
                audio=str(f),
                transcript="",
                duration=0.0,
                language=f.relative_to(tmp / "uploads").parts[0],
                speaker=f.parent.name,
                split="train",
                sha256=sha256_file(f),
            )
            for i, f in enumerate(files)
        ]
        import librosa

        audio_s = sum(librosa.get_duration(path=str(f)) for f in files)
        results = []
        (tmp / "naive").mkdir()
        t = time.perf_counter()
        naive(files, tmp / "naive")
        base = time.perf_counter() - t
        results.append(("naive librosa.load + write (baseline)", 1, base))
        for label, options in [
            ("ours: soxr + VAD trim", PreprocessOptions()),
            ("ours: soxr only (no VAD)", PreprocessOptions(trim_silence=False)),
            ("ours: soxr + VAD + loudness", PreprocessOptions(loudness_lufs=-23.0)),
        ]:
            for workers in sorted({1, cores}):
                out = tmp / f"{label[:12]}{workers}"
                t = time.perf_counter()
                _, done, errors = preprocess_rows(
                    rows, lambda r, out=out: out / f"{r.id}.wav", {}, options, workers=workers
                )
                assert done == len(rows) and not errors, errors
                results.append((label, workers, time.perf_counter() - t))
    print(f"\npreprocessing {len(files)} files, {audio_s:.0f} s of audio, {cores} cores\n")
    print("| method                                  | workers | seconds | x real time per core | vs baseline |")
    print("|-----------------------------------------|---------|---------|----------------------|-------------|")
    base_rt = audio_s / base
    for label, workers, seconds in results:
        rt = audio_s / seconds / workers
        print(f"| {label:39s} | {workers:7d} | {seconds:7.2f} | {rt:20.1f} | {rt / base_rt:11.2f} |")


if __name__ == "__main__":
    main()
