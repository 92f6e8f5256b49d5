"""Benchmark: the transcription service against faster-whisper called directly, in the same run.

Baseline: faster-whisper (CTranslate2) called in process on the same whisper-base weights (the built-in
model is a CT2 model), int8, word timestamps, the language given, with the service's decoding settings
(greedy, one sample per fallback temperature: ``best_of=1``; faster-whisper's own default of 5 samples
made the baseline slower than the service on clips that fall back): what a team would write instead of
running our service, so the ratio is the service's own cost. Ours: ``POST /transcribe`` over HTTP to
the service started as a process with ``--backend ct2`` and with ``--backend transformers`` (upload,
ffmpeg decode, language restriction, word timestamps, snapping to speech, JSON); and our engine on CT2
called in process, which tells the request's own cost (upload, decode, HTTP) from the engine's. Every
system gets the same thread count (``--threads``, default 2). Clips: short espeak-ng sentences in bs,
hr and sr with their known text, and one long clip (twelve hr sentences with pauses, ≈ 52 s: past
Whisper's 30 s window).

Each repetition times every clip group on every system; the order rotates from one repetition to the
next, so a machine that warms up or gets busier during the run favours no system. Reported: the median
over repetitions with its min–max, RTF = median / audio seconds, the ratio of medians to the baseline,
and WER (and CER) of each system's text against what was said.

    .venv/bin/python bench/serving_latency.py [--threads 2] [--clips 3] [--repeats 3]
    .venv/bin/python bench/serving_latency.py --clips 1 --long-sentences 0 --repeats 1 --systems ct2  # smoke
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests

from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.evaluation.metrics import score
from whisper_pipeline.models.source import BUILTIN_BASE, assemble_builtin_ct2, resolve_model_source
from whisper_pipeline.sample_data import sentences, speak
from whisper_pipeline.workspace import LANGUAGES, Workspace

VOICES = {"bs": "bs+m3", "hr": "hr+f2", "sr": "sr+m1"}
PAUSE_S = 1.5


def make_clips(d: Path, per_language: int, long_sentences: int) -> dict[str, list[tuple[Path, str, str]]]:
    """{group: [(16 kHz wav, language, text)]}: short sentences per language, and the long clip."""
    groups: dict[str, list] = {"short clips": []}
    for lang in LANGUAGES:
        for i, text in enumerate(sentences(lang)[:per_language]):
            wav = d / f"{lang}{i}.wav"
            speak(text, VOICES[lang], 150, 50, d / f"raw_{wav.name}")
            to_16k(d / f"raw_{wav.name}", wav)
            groups["short clips"].append((wav, lang, text))
    if long_sentences:
        said = sentences("hr")[per_language : per_language + long_sentences]
        parts = []
        for i, text in enumerate(said):
            speak(text, "hr+f2", 140, 50, d / f"long{i}.wav")
            parts += [decode(str(d / f"long{i}.wav")), np.zeros(int(PAUSE_S * 16000), np.float32)]
        import soundfile as sf

        sf.write(d / "long.wav", np.concatenate(parts), 16000, subtype="PCM_16")
        groups["long clip"] = [(d / "long.wav", "hr", " ".join(said))]
    return groups


def to_16k(src: Path, dst: Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-ar", "16000", "-ac", "1", str(dst)], check=True)


def start_service(ws: Workspace, model: str, backend: str, threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "whisper_pipeline.serving", "--port", str(port), "--workspace", str(ws.root)]
    cmd += ["--base-model", model, "--device", "cpu", "--preload", "base", "--backend", backend]
    cmd += ["--cpu-threads", str(threads), "--max-queue", "8", "--queue-timeout", "3600"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(url + "/health", timeout=1).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError(f"the {backend} service exited with {proc.returncode}")
    proc.kill()
    raise TimeoutError(f"the {backend} service did not start within 5 minutes")


def spread(values: list[float]) -> str:
    """median [min–max]"""
    return f"{statistics.median(values):.2f} [{min(values):.2f}–{max(values):.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for every system")
    ap.add_argument("--clips", type=int, default=3, help="short clips per language (one sentence each)")
    ap.add_argument("--long-sentences", type=int, default=12, help="sentences in the long clip; 0: none")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions, the order rotating")
    ap.add_argument("--systems", default="baseline,engine,ct2,transformers", help="which to run, comma-separated")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the services started below are stopped
    wanted = args.systems.split(",")
    cache = Workspace.at().ensure().models / "base"
    ct2_dir = assemble_builtin_ct2(cache)  # whisper-base as shipped: CTranslate2
    hf_dir = resolve_model_source(BUILTIN_BASE, cache)  # and its transformers copy (the service's "base")
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        groups = make_clips(tmp, args.clips, args.long_sentences)
        audio = {wav: decode(str(wav)) for group in groups.values() for wav, _, _ in group}
        systems: dict[str, Callable[[Path, str], str]] = {}
        try:
            if "baseline" in wanted:
                from faster_whisper import WhisperModel

                direct = WhisperModel(str(ct2_dir), device="cpu", compute_type="int8", cpu_threads=args.threads)

                def baseline(wav: Path, lang: str) -> str:
                    segments, _ = direct.transcribe(
                        audio[wav], language=lang, beam_size=1, best_of=1, word_timestamps=True
                    )
                    return " ".join(s.text.strip() for s in segments)

                systems["baseline"] = baseline
            if "engine" in wanted:  # our engine in this process: the service without upload, decode and HTTP
                from whisper_pipeline.serving.engine import TranscriptionEngine

                engine = TranscriptionEngine("cpu", backend="ct2", cpu_threads=args.threads)

                def in_process(wav: Path, lang: str) -> str:
                    return engine.transcribe(hf_dir, audio[wav], lang)["text"]

                systems["engine ct2 (in process)"] = in_process
            for backend in ("ct2", "transformers"):
                if backend not in wanted:
                    continue
                proc, url = start_service(Workspace.at(tmp / f"ws-{backend}").ensure(), hf_dir, backend, args.threads)
                procs.append(proc)

                def service(wav: Path, lang: str, url: str = url, backend: str = backend) -> str:
                    with open(wav, "rb") as f:
                        r = requests.post(
                            url + "/transcribe", files={"file": (wav.name, f)}, data={"language": lang}, timeout=3600
                        )
                    r.raise_for_status()
                    assert r.json()["backend"] == backend, r.json()["backend"]
                    return r.json()["text"]

                systems[f"service {backend}"] = service
            first = groups["short clips"][0]
            for call in systems.values():
                call(first[0], first[1])  # warm-up
            names = list(systems)
            times = {(g, n): [] for g in groups for n in names}
            heard: dict[tuple[str, str], list[str]] = {}
            for rep in range(args.repeats):
                order = names[rep % len(names) :] + names[: rep % len(names)]
                for label, group in groups.items():
                    for name in order:
                        t = time.perf_counter()
                        heard[(label, name)] = [systems[name](wav, lang) for wav, lang, _ in group]
                        times[(label, name)].append(time.perf_counter() - t)
                print(f"repetition {rep + 1}/{args.repeats} done (order: {', '.join(order)})", flush=True)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)

    print(f"\nwhisper-base; CPU, {args.threads} threads ({os.cpu_count()} cores); {args.repeats} repetitions")
    print("seconds per group: median [min–max]; RTF = median / audio seconds; ratio = median / baseline median")
    base_name = "baseline" if "baseline" in names else names[0]
    print("\n| audio | system | seconds | RTF | ratio | WER | CER |\n|---|---|---|---|---|---|---|")
    for label, group in groups.items():
        seconds = sum(audio[wav].size / 16000 for wav, _, _ in group)
        base = statistics.median(times[(label, base_name)])
        said = [t for _, _, t in group]
        for name in names:
            med = statistics.median(times[(label, name)])
            quality = score(said, heard[(label, name)])
            print(
                f"| {label}: {len(group)}, {seconds:.1f} s | {name} | {spread(times[(label, name)])} | "
                f"{med / seconds:.3f} | {med / base:.2f} | {quality['wer']:.3f} | {quality['cer']:.3f} |"
            )
    print(f"\nbaseline: faster-whisper in process (int8, greedy, best_of=1, word timestamps, {args.threads} "
          "threads); "
          "service: POST /transcribe over HTTP (word timestamps snapped to speech)")  # fmt: skip


if __name__ == "__main__":
    main()
