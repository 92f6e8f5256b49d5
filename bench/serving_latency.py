"""Benchmark: what the transcription service costs over plain transcription, in the same run.

Baseline: the plain ``transformers`` ASR pipeline (what a quick script does: segment timestamps,
which long-form needs, but no word timestamps) on the same 16 kHz clips, one clip per call, in
process. Ours: ``POST /transcribe`` to the service started as a process (upload, ffmpeg decode,
Whisper with word timestamps through stable-ts, snapping, JSON), and ``POST /align`` with the known
text (karaoke). Real whisper-base (or ``--model``), real espeak-ng speech: short clips and one ≈45 s
clip (past Whisper's 30 s window).

Each repetition times every clip group with both; the order alternates (baseline first, then the
service first), so a machine that warms up or gets busier during the run does not favour one side.
Reported: the median over repetitions with its min–max, and the ratio of the medians.

    .venv/bin/python bench/serving_latency.py [--model builtin:whisper-base] [--clips 6] [--repeats 3]
    .venv/bin/python bench/serving_latency.py --clips 1 --long-sentences 0 --repeats 2   # smoke run
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
import soundfile as sf

from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.sample_data import sentences, speak
from whisper_pipeline.workspace import Workspace

METHODS = ("baseline", "transcribe", "align")


def make_clips(d: Path, n: int, long_sentences: int) -> list[tuple[Path, str]]:
    texts = sentences("hr")
    clips = []
    for i in range(n):
        raw = d / f"raw{i}.wav"
        speak(texts[i], "hr+m3", 150, 50, raw)
        clips.append((raw, texts[i]))
    if long_sentences:
        long_text = " ".join(texts[n : n + long_sentences])
        speak(long_text, "hr+f2", 130, 50, d / "long_raw.wav")
        clips.append((d / "long_raw.wav", long_text))
    out = []
    for (
        raw,
        text,
    ) in clips:  # the baseline reads processed (16 kHz mono) audio, as in evaluation
        wav = raw.with_name(raw.name.replace("raw", "clip"))
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-i",
                str(raw),
                "-ar",
                "16000",
                "-ac",
                "1",
                str(wav),
            ],
            check=True,
        )
        out.append((wav, text))
    return out


def timed(fn: Callable[[], list[str]]) -> tuple[float, list[str]]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def spread(values: list[float]) -> str:
    """median [min–max]"""
    return f"{statistics.median(values):.3f} [{min(values):.3f}–{max(values):.3f}]"


def start_service(ws: Workspace, model: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "whisper_pipeline.serving", "--port", str(port)]
    cmd += [
        "--workspace",
        str(ws.root),
        "--base-model",
        model,
        "--device",
        "cpu",
        "--preload",
        "base",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if requests.get(url + "/health", timeout=1).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.5)
    proc.kill()
    raise TimeoutError("the service did not start within 2 minutes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=BUILTIN_BASE)
    ap.add_argument("--clips", type=int, default=6, help="short clips (one sentence each)")
    ap.add_argument(
        "--long-sentences",
        type=int,
        default=14,
        help="sentences in the long clip; 0: none",
    )
    ap.add_argument("--repeats", type=int, default=3, help="repetitions, the order alternating")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ws = Workspace.at(tmp / "ws").ensure()
        model = resolve_model_source(args.model, Workspace.at().ensure().models / "base")
        clips = make_clips(tmp, args.clips, args.long_sentences)
        groups = [("short clips", clips[: args.clips])]
        if args.long_sentences:
            groups.append(("long clip", clips[args.clips :]))
        dur = {c: sf.info(str(c)).duration for c, _ in clips}

        from transformers import pipeline

        pipe = pipeline("automatic-speech-recognition", model=model, device="cpu")

        def plain(path: Path) -> str:
            audio, sr = sf.read(str(path), dtype="float32")
            return pipe(
                {"raw": audio, "sampling_rate": sr},
                return_timestamps=True,
                generate_kwargs={"language": "hr", "task": "transcribe"},
            )["text"]

        plain(clips[0][0])  # warm-up
        proc, url = start_service(ws, model)
        try:

            def post(endpoint: str, path: Path, **form: str) -> str:
                with open(path, "rb") as f:
                    r = requests.post(
                        url + endpoint,
                        files={"file": (path.name, f)},
                        data={"language": "hr", **form},
                        timeout=3600,
                    )
                r.raise_for_status()
                return r.json()["text"]

            post("/transcribe", clips[0][0])  # warm-up
            times: dict[tuple[str, str], list[float]] = {(g, m): [] for g, _ in groups for m in METHODS}
            heard: dict[tuple[str, str], list[str]] = {}
            for rep in range(args.repeats):
                order = METHODS if rep % 2 == 0 else METHODS[1:] + METHODS[:1]
                for label, group in groups:
                    runs = {
                        "baseline": lambda g=group: [plain(c) for c, _ in g],
                        "transcribe": lambda g=group: [post("/transcribe", c) for c, _ in g],
                        "align": lambda g=group: [post("/align", c, text=t) for c, t in g],
                    }
                    for method in order:
                        seconds, heard[(label, method)] = timed(runs[method])
                        times[(label, method)].append(seconds)
                print(
                    f"repetition {rep + 1}/{args.repeats} done (order: {', '.join(order)})",
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(f"\nmodel {args.model}; CPU; {args.repeats} repetitions, order alternating")
    print("seconds per group: median [min–max]; RTF = median / audio seconds; ratio = median / baseline median")
    for label, group in groups:
        audio = sum(dur[c] for c, _ in group)
        base = statistics.median(times[(label, "baseline")])
        said = sum(len(t.split()) for _, t in group)
        words = {m: sum(len(t.split()) for t in heard[(label, m)]) for m in ("baseline", "transcribe")}
        print(f"\n{label}: {len(group)} clip(s), {audio:.1f} s of audio; words said {said}, "
              f"baseline {words['baseline']}, service {words['transcribe']}")  # fmt: skip
        print(f"  {'':<12} {'seconds':>24} {'RTF':>7} {'ratio':>6}")
        for method in METHODS:
            values = times[(label, method)]
            med = statistics.median(values)
            print(f"  {method:<12} {spread(values):>24} {med / audio:>7.3f} {med / base:>6.2f}")
    print(
        "\nbaseline: transformers ASR pipeline in process, segment timestamps only; "
        "transcribe/align: the service over HTTP, word timestamps"
    )


if __name__ == "__main__":
    main()
