"""Benchmark: preprocessing throughput in × real time per core, against baselines measured in the same run.

Decode once (the default table): ``process_one`` as it is (decoded once in process with PyAV, soxr's
streaming resampler, silero-VAD only near the edges, written block by block) against the path before it,
kept here as ``process_one_baseline`` (an ``ffprobe`` and an ``ffmpeg`` subprocess, the whole file in
memory, soxr, silero-VAD's TorchScript model over the whole file), on 10-15 s MP3/Opus clips and, with
``--long``, a 10-minute FLAC and a 1-hour MP3 (inputs as ``bench/intake_throughput.py`` makes them). Each
(method, input set) runs in a fresh process, one file after another: "per core". Peak RSS per process.

``--corpus``: the earlier table, against a naive ``librosa.load(path, sr=16000)`` + ``soundfile.write`` per
file, on the sample corpus, with 1 worker and with one worker per core.

    nice -n 10 .venv/bin/python bench/preprocess_throughput.py --clips 40 --long
    .venv/bin/python bench/preprocess_throughput.py --corpus --speakers 4 --sentences 5
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from intake_throughput import duration, inputs, measure_alternating, table, timed

from whisper_pipeline.audio.inspect import sha256_file
from whisper_pipeline.audio.preprocess import PreprocessOptions, preprocess_rows
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.sample_data import generate_corpus


def naive(files: list[Path], out: Path) -> None:
    import librosa

    for i, f in enumerate(files):
        audio, _ = librosa.load(str(f), sr=16000)
        sf.write(out / f"{i}.wav", audio, 16000, subtype="PCM_16")


def process_one_baseline(source: str, target: str, options: PreprocessOptions) -> None:
    """Preprocessing before decoding once (PREPROCESS_VERSION 2), kept for the same-run comparison."""
    import torch
    from silero_vad import get_speech_timestamps

    from whisper_pipeline.audio.stream16k import load_16k_ffmpeg

    audio = load_16k_ffmpeg(source)
    total = round(audio.size / 16000, 3)
    stamps = get_speech_timestamps(
        torch.from_numpy(audio), _jit_vad(), sampling_rate=16000, threshold=options.vad_threshold
    )
    if stamps:
        start = max(0.0, stamps[0]["start"] / 16000 - options.margin_s)
        end = min(total, stamps[-1]["end"] / 16000 + options.margin_s)
        audio = audio[round(start * 16000) : round(end * 16000)]
    sf.write(target, np.clip(audio, -1.0, 1.0), 16000, subtype="PCM_16")


@lru_cache(maxsize=1)
def _jit_vad():
    import torch
    from silero_vad import load_silero_vad

    torch.set_num_threads(1)
    return load_silero_vad()


def _measure_here(method: str, files: list[str]) -> dict:
    from threadpoolctl import threadpool_limits

    from whisper_pipeline.audio.preprocess import process_one
    from whisper_pipeline.parallel.worker import one_compute_thread

    one_compute_thread()  # as each worker process is set up: one torch thread
    threadpool_limits(1, user_api="blas")  # and one BLAS thread, as the pool's workers inherit it
    options = PreprocessOptions()
    run_one = {"baseline": process_one_baseline, "ours": process_one}[method]
    with tempfile.TemporaryDirectory() as out:
        run_one(files[0], f"{out}/warm.wav", options)  # imports and models, as a worker pays once

        def run() -> None:
            for i, f in enumerate(files):
                run_one(f, f"{out}/{i}.wav", options)

        return timed(run)


def decode_once(args) -> None:
    rows = []
    for name, files in inputs(args):
        audio_s = sum(duration(f) for f in files)
        base, ours = measure_alternating(__file__, ["baseline", "ours"], files, args.repeats)
        rows += [(name, "baseline", audio_s, base), (name, "ours", audio_s, ours)]
    table(
        rows,
        f"preprocessing (decode, resample, VAD trim, write), one process (one core), median of {args.repeats} runs "
        "(range per CPU s)",
    )
    print("\nGPU: not used by this stage (not measured).")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--long", action="store_true", help="also a 10-minute FLAC and a 1-hour MP3")
    ap.add_argument("--repeats", type=int, default=3, help="runs per method, alternating; the median is shown")
    ap.add_argument("--corpus", action="store_true", help="the table against naive librosa on the sample corpus")
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--sentences", type=int, default=5)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(_measure_here(args.measure, args.files)))
        return
    if not args.corpus:
        decode_once(args)
        return
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
