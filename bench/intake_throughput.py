"""Benchmark: intake's ``check_audio`` in × real time per core, against the path before it, in the same run.

Baseline: ``check_audio_ffmpeg`` (an ``ffprobe`` and an ``ffmpeg`` subprocess per file, the whole file
decoded into memory, hashed separately). Ours: ``check_audio`` (one pass in this process with PyAV: hashed
while read, decoded, analysed block by block). Inputs: 10-15 s espeak-ng clips as MP3 and Opus (44.1/48 kHz
stereo, as phones and recorders make them), a 10-minute FLAC and a 1-hour MP3. Each (method, input set)
runs in a fresh process with one worker, so "per core" is one process on one core; CPU seconds include the
ffmpeg children of the baseline. Peak RSS is the process's (and, for the baseline, its largest child's).

    nice -n 10 .venv/bin/python bench/intake_throughput.py --clips 40 --long
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

INPUTS = Path(os.environ.get("BENCH_INPUTS", "/tmp/whisper_pipeline_bench_inputs"))


def make_clips(out: Path, n: int) -> list[Path]:
    """``n`` clips of 10-15 s (4-5 espeak-ng sentences, a little silence at each end), MP3 and Opus in turn."""
    from whisper_pipeline.sample_data import sentences, speak

    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(0)
    files = []
    for i in range(n):
        ext = "mp3" if i % 2 == 0 else "opus"
        target = out / f"c{i:03d}.{ext}"
        files.append(target)
        if target.exists():
            continue
        lang = rnd.choice(["hr", "sr", "bs"])
        wav = out / f"c{i:03d}.raw.wav"
        speak(" ".join(rnd.sample(sentences(lang), rnd.choice([4, 5]))), lang, rnd.randint(140, 190), 50, wav)
        lead, tail = rnd.uniform(0.1, 1.5), rnd.uniform(0.1, 1.5)
        codec = ["-b:a", "64k"] if ext == "mp3" else ["-c:a", "libopus", "-b:a", "32k"]
        rate = "44100" if ext == "mp3" else "48000"
        pad = f"adelay={int(lead * 1000)}:all=1,apad=pad_dur={tail:.2f},volume=0.8"
        _ffmpeg(["-i", str(wav), "-af", pad, "-ar", rate, "-ac", "2", *codec, str(target)])
        wav.unlink()
    return files


def make_long(out: Path, seconds: int, ext: str) -> Path:
    """A talk of ``seconds``: a minute of espeak-ng sentences and pauses, repeated; 44.1 kHz stereo."""
    from whisper_pipeline.sample_data import sentences, speak

    target = out / f"talk{seconds}.{ext}"
    if target.exists():
        return target
    out.mkdir(parents=True, exist_ok=True)
    unit = out / "unit.wav"
    if not unit.exists():
        parts = []
        for i, text in enumerate(sentences("hr")[:12]):
            speak(text, "hr", 160, 50, out / f"u{i}.wav")
            parts.append(out / f"u{i}.wav")
        inputs = [a for p in parts for a in ("-i", str(p))]
        chain = "".join(f"[{i}:a]apad=pad_dur=0.7[a{i}];" for i in range(len(parts)))
        mix = "".join(f"[a{i}]" for i in range(len(parts)))
        _ffmpeg([*inputs, "-filter_complex", f"{chain}{mix}concat=n={len(parts)}:v=0:a=1", str(unit)])
        for p in parts:
            p.unlink()
    codec = ["-b:a", "64k"] if ext == "mp3" else []
    _ffmpeg(
        ["-stream_loop", "-1", "-i", str(unit), "-t", str(seconds), "-ar", "44100", "-ac", "2", *codec, str(target)]
    )
    return target


def _ffmpeg(args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def measure(script: str, method: str, files: list[Path], *extra: str) -> dict:
    """Run ``script --measure method files`` in a fresh process; its JSON line: seconds, CPU, peak RSS."""
    cmd = [sys.executable, script, "--measure", method, *extra, "--", *map(str, files)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{method}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_alternating(script: str, methods: list[str], files: list[Path], repeats: int) -> list[dict]:
    """``measure`` each method ``repeats`` times, the order alternating (a busy moment of a shared machine falls
    on both), and keep each method's median run by CPU time, with the range of its CPU seconds."""
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for r in range(repeats):
        for method in methods if r % 2 == 0 else methods[::-1]:
            runs[method].append(measure(script, method, files))
    out = []
    for method in methods:
        ordered = sorted(runs[method], key=lambda m: m["cpu"])
        median = dict(ordered[len(ordered) // 2])
        median["cpu_range"] = (ordered[0]["cpu"], ordered[-1]["cpu"])
        out.append(median)
    return out


def timed(run) -> dict:
    """Wall and CPU seconds (this process and its children) of ``run()``, and peak RSS, as measure's JSON."""
    self0, child0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    run()
    wall = time.perf_counter() - t
    self1, child1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        getattr(b, f) - getattr(a, f) for a, b in ((self0, self1), (child0, child1)) for f in ("ru_utime", "ru_stime")
    )
    return {"wall": wall, "cpu": cpu, "rss_mb": max(self1.ru_maxrss, child1.ru_maxrss) / 1024}


def _measure_here(method: str, files: list[str]) -> dict:
    from whisper_pipeline.audio.inspect import check_audio, check_audio_ffmpeg

    check = {"baseline": check_audio_ffmpeg, "ours": check_audio}[method]
    check(files[0])  # imports (PyAV's libraries) and first-call set-up, as a worker pays once

    def run() -> None:
        for f in files:
            result = check(f)
            assert result.status == "ok", result

    return timed(run)


def table(rows: list[tuple[str, str, float, dict]], title: str) -> None:
    """Print rows of (input, method, audio seconds, measure's dict), the baseline of each input first."""
    load = os.getloadavg()
    print(f"\n{title}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores\n")
    print(
        "| input | method | audio s | wall s | × real time (wall) | CPU s | × real time per CPU s "
        "| vs baseline (CPU) | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    base: dict[str, float] = {}
    for name, method, audio_s, m in rows:
        per_cpu = audio_s / m["cpu"]
        base.setdefault(name, per_cpu)
        spread = ""
        if "cpu_range" in m and m["cpu_range"][0] != m["cpu_range"][1]:
            spread = f" ({audio_s / m['cpu_range'][1]:.0f}–{audio_s / m['cpu_range'][0]:.0f})"
        print(
            f"| {name} | {method} | {audio_s:.0f} | {m['wall']:.2f} | {audio_s / m['wall']:.0f}× | {m['cpu']:.2f} "
            f"| {per_cpu:.0f}×{spread} | {per_cpu / base[name]:.2f}× | {m['rss_mb']:.0f} |"
        )


def inputs(args) -> list[tuple[str, list[Path]]]:
    sets = [(f"{args.clips} clips of 10-15 s (MP3/Opus)", make_clips(INPUTS / "clips", args.clips))]
    if args.long:
        sets.append(("10-min FLAC (44.1 kHz stereo)", [make_long(INPUTS, 600, "flac")]))
        sets.append(("1-hour MP3 (44.1 kHz stereo)", [make_long(INPUTS, 3600, "mp3")]))
    return sets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--long", action="store_true", help="also a 10-minute FLAC and a 1-hour MP3")
    ap.add_argument("--repeats", type=int, default=3, help="runs per method, alternating; the median is shown")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(_measure_here(args.measure, args.files)))
        return
    rows = []
    for name, files in inputs(args):
        audio_s = sum(duration(f) for f in files)
        measure(__file__, "ours", files[:1])  # warm the page cache: both read the files from memory
        base, ours = measure_alternating(__file__, ["baseline", "ours"], files, args.repeats)
        rows += [(name, "baseline", audio_s, base), (name, "ours", audio_s, ours)]
    table(rows, f"intake check_audio, one process (one core), median of {args.repeats} runs (range per CPU s)")
    print("\nGPU: not used by this stage (not measured).")


if __name__ == "__main__":
    main()
