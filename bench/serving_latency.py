"""Benchmark: what the transcription service costs over plain transcription, in the same run.

Baseline: the plain ``transformers`` ASR pipeline (what a quick script does: segment timestamps, which
long-form needs, but no word timestamps) on the same 16 kHz clips, one clip per call, in process. Ours: ``POST /transcribe`` to the service started as a process
(upload, ffmpeg decode, Whisper with word timestamps through stable-ts, snapping, JSON), and
``POST /align`` with the known text (karaoke). Real whisper-base (or ``--model``), real espeak-ng
speech: short clips and one ≈45 s clip (past Whisper's 30 s window).

    .venv/bin/python bench/serving_latency.py [--model builtin:whisper-base] [--clips 6]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import soundfile as sf

from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.sample_data import sentences, speak
from whisper_pipeline.workspace import Workspace


def make_clips(d: Path, n: int) -> list[tuple[Path, str]]:
    texts = sentences("hr")
    clips = []
    for i in range(n):
        raw = d / f"raw{i}.wav"
        speak(texts[i], "hr+m3", 150, 50, raw)
        clips.append((raw, texts[i]))
    long_text = " ".join(texts[n : n + 14])
    speak(long_text, "hr+f2", 130, 50, d / "long_raw.wav")
    clips.append((d / "long_raw.wav", long_text))
    out = []
    for raw, text in clips:  # the baseline reads processed (16 kHz mono) audio, as in evaluation
        wav = raw.with_name(raw.name.replace("raw", "clip"))
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(wav)], check=True)
        out.append((wav, text))
    return out


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=BUILTIN_BASE)
    ap.add_argument("--clips", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ws = Workspace.at(tmp / "ws").ensure()
        model = resolve_model_source(args.model, Workspace.at().ensure().models / "base")
        clips = make_clips(tmp, args.clips)
        short, long_clip = clips[:-1], clips[-1]
        dur = {c: sf.info(str(c)).duration for c, _ in clips}

        from transformers import pipeline

        pipe = pipeline("automatic-speech-recognition", model=model, device="cpu")

        def plain(path: Path) -> str:
            audio, sr = sf.read(str(path), dtype="float32")
            return pipe({"raw": audio, "sampling_rate": sr}, return_timestamps=True,
                        generate_kwargs={"language": "hr", "task": "transcribe"})["text"]

        plain(short[0][0])  # warm-up
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "whisper_pipeline.serving", "--port", str(port), "--workspace",
                                 str(ws.root), "--base-model", model, "--device", "cpu", "--preload", "base"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):
                try:
                    if requests.get(url + "/health", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.5)

            def post(endpoint: str, path: Path, **form) -> str:
                with open(path, "rb") as f:
                    r = requests.post(url + endpoint, files={"file": (path.name, f)}, data={"language": "hr", **form})
                r.raise_for_status()
                return r.json()["text"]

            def words(texts: list[str]) -> int:
                return sum(len(t.split()) for t in texts)

            post("/transcribe", short[0][0])  # warm-up
            rows = []
            for label, group in (("short clips", short), ("45 s clip", [long_clip])):
                audio = sum(dur[c] for c, _ in group)
                out: dict[str, list[str]] = {"base": [], "serve": []}
                base = sum(timed(lambda c=c: out["base"].append(plain(c))) for c, _ in group)
                serve = sum(timed(lambda c=c: out["serve"].append(post("/transcribe", c))) for c, _ in group)
                align = sum(timed(lambda c=c, t=t: post("/align", c, text=t)) for c, t in group)
                rows.append((label, len(group), audio, base, serve, align, words(out["base"]), words(out["serve"]),
                             words([t for _, t in group])))
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(f"\nmodel {args.model}; CPU; real-time factor = processing seconds / audio seconds (lower is faster)")
    print(f"{'audio':<12} {'clips':>5} {'audio s':>8} {'baseline RTF':>13} {'/transcribe RTF':>16} {'ratio':>6} "
          f"{'/align RTF':>11} {'ratio':>6}  words said / baseline / service")
    for label, n, audio, base, serve, align, wb, ws_, said in rows:
        print(f"{label:<12} {n:>5} {audio:>8.1f} {base / audio:>13.3f} {serve / audio:>16.3f} {serve / base:>6.2f} "
              f"{align / audio:>11.3f} {align / base:>6.2f}  {said} / {wb} / {ws_}")
    print("baseline: transformers ASR pipeline in process, segment timestamps only; ratio = service time / baseline time")


if __name__ == "__main__":
    main()
