"""Load test: N concurrent clients against the service started as a process on 127.0.0.1 (real
whisper-base, or ``--model``), each sending a mix of short and long espeak-ng clips to
``POST /v1/audio/transcriptions`` for a fixed time. Bounded: loopback only, ``--seconds`` of sending
and at most ``--max-requests`` requests per run; a client that gets 503 waits ``Retry-After`` (at most
5 s) and sends the same clip again, as a well-behaved client does.

Reported per run: requests answered 200, deliberate 503s (queue full / waited too long), any other
error (must be 0), latency p50/p95/max of the 200s, throughput in audio seconds transcribed per
second of wall time, and the server's peak RSS (the process and its ffmpeg children, sampled every
0.1 s). ``--compare`` runs the same load first against a server with an effectively unbounded queue
(``--max-queue 1000 --queue-timeout 3600``: every request waits its turn, the behaviour before the
queue was bounded), then against the bounded one, in the same run.

    .venv/bin/python bench/serving_load.py [--clients 8] [--seconds 60] [--max-queue 4] [--compare]
    .venv/bin/python bench/serving_load.py --clients 2 --seconds 10 --max-requests 6   # smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import soundfile as sf

from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.sample_data import sentences, speak
from whisper_pipeline.workspace import Workspace

LOOPBACK = "127.0.0.1"


def make_clips(d: Path, short: int, long_sentences: int) -> list[tuple[Path, float]]:
    """(wav, seconds): ``short`` one-sentence clips and one clip of ``long_sentences`` sentences."""
    texts = sentences("hr")
    clips = []
    for i in range(short):
        speak(texts[i], "hr+m3", 150, 50, d / f"short{i}.wav")
        clips.append(d / f"short{i}.wav")
    if long_sentences:
        speak(" ".join(texts[short : short + long_sentences]), "hr+f2", 140, 50, d / "long.wav")
        clips.append(d / "long.wav")
    return [(p, sf.info(str(p)).duration) for p in clips]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    audio_ok: float = 0.0
    full: int = 0
    timeout: int = 0
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    last_done: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def start(model: str, ws: Path, max_queue: int, queue_timeout: float, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "whisper_pipeline.serving", "--host", LOOPBACK, "--port", str(port)]
    cmd += ["--workspace", str(ws), "--base-model", model, "--preload", "base", "--log-format", "json"]
    cmd += ["--max-queue", str(max_queue), "--queue-timeout", str(queue_timeout)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.pop("WHISPER_PIPELINE_API_KEYS", None)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the service exited:\n" + log.read_text()[-3000:])
        try:
            if requests.get(url + "/health", timeout=2).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.5)
    proc.kill()
    raise TimeoutError("the service did not start")


def watch_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """Peak resident memory of the server and its children (ffmpeg decodes), sampled every 0.1 s."""
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            total = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak[0] = max(peak[0], total)
        except psutil.Error:
            pass
        stop.wait(0.1)


def client(idx: int, url: str, clips: list[tuple[Path, float]], until: float, cap: list[int], t: Tally) -> None:
    k = idx
    while time.time() < until:
        with t.lock:
            if cap[0] <= 0:
                return
            cap[0] -= 1
            t.sent += 1
        path, seconds = clips[k % len(clips)]  # the same clip again after a 503, so both runs serve one mix
        started = time.perf_counter()
        try:
            with open(path, "rb") as f:
                r = requests.post(
                    url + "/v1/audio/transcriptions",
                    files={"file": (path.name, f)},
                    data={"model": "whisper-1", "language": "hr"},
                    timeout=3600,
                )
        except requests.RequestException as exc:
            with t.lock:
                t.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        took = time.perf_counter() - started
        with t.lock:
            t.last_done = time.time()
            if r.status_code == 200:
                t.latencies.append(took)
                t.audio_ok += seconds
            elif r.status_code == 503:
                message = r.json()["error"]["message"]
                if "--queue-timeout" in message:
                    t.timeout += 1
                else:
                    t.full += 1
            else:
                t.errors.append(f"{r.status_code}: {r.text[:200]}")
        if r.status_code == 503:
            time.sleep(min(5.0, float(r.headers.get("Retry-After", "1"))))
        else:
            k += 1


def run_load(args, model: str, clips, max_queue: int, queue_timeout: float, d: Path, label: str) -> dict:
    ws = Workspace.at(d / f"ws-{label}").ensure()
    proc, url = start(model, ws.root, max_queue, queue_timeout, d / f"{label}.log")
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=watch_rss, args=(proc.pid, stop, peak), daemon=True)
    watcher.start()
    try:
        idle_rss = psutil.Process(proc.pid).memory_info().rss
        tally, cap = Tally(), [args.max_requests]
        began = time.time()
        until = began + args.seconds
        threads = [
            threading.Thread(target=client, args=(i, url, clips, until, cap, tally)) for i in range(args.clients)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = (tally.last_done or time.time()) - began
    finally:
        stop.set()
        watcher.join()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    lat = sorted(tally.latencies)
    return {
        "label": label,
        "sent": tally.sent,
        "ok": len(lat),
        "full": tally.full,
        "timeout": tally.timeout,
        "errors": tally.errors,
        "p50": statistics.median(lat) if lat else float("nan"),
        "p95": lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))] if lat else float("nan"),
        "max": lat[-1] if lat else float("nan"),
        "throughput": tally.audio_ok / wall if wall > 0 else 0.0,
        "wall": wall,
        "idle_mb": idle_rss / 2**20,
        "peak_mb": peak[0] / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=BUILTIN_BASE)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long clients keep sending")
    parser.add_argument("--max-requests", type=int, default=200, help="cap on requests per run")
    parser.add_argument("--max-queue", type=int, default=4)
    parser.add_argument("--queue-timeout", type=float, default=60.0)
    parser.add_argument("--short", type=int, default=3, help="one-sentence clips")
    parser.add_argument("--long-sentences", type=int, default=6, help="sentences in the long clip (0: none)")
    parser.add_argument("--compare", action="store_true", help="also run with an unbounded queue first")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 0 < args.seconds <= 900:
        parser.error("--clients 1..64 and --seconds up to 900 (a bounded test)")

    with tempfile.TemporaryDirectory(prefix="serving-load-") as tmp:
        d = Path(tmp)
        model = resolve_model_source(args.model, d / "models")
        clips = make_clips(d, args.short, args.long_sentences)
        print("clips:", ", ".join(f"{p.name} {s:.1f} s" for p, s in clips), flush=True)
        runs = []
        if args.compare:
            runs.append(run_load(args, model, clips, 1000, 3600.0, d, "unbounded"))
        runs.append(run_load(args, model, clips, args.max_queue, args.queue_timeout, d, "bounded"))

    print(
        f"\n{args.clients} clients, {args.seconds:g} s of sending, bounded = --max-queue {args.max_queue} "
        f"--queue-timeout {args.queue_timeout:g}\n"
    )
    print(
        "| queue | sent | 200 | 503 full | 503 timeout | other errors | p50 s | p95 s | max s "
        "| audio s/s | server RSS idle → peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['label']} | {r['sent']} | {r['ok']} | {r['full']} | {r['timeout']} | {len(r['errors'])} "
            f"| {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | {r['throughput']:.2f} "
            f"| {r['idle_mb']:.0f} → {r['peak_mb']:.0f} |"
        )
    if len(runs) == 2 and runs[0]["p95"] == runs[0]["p95"]:
        print(f"\np95 bounded / unbounded: {runs[1]['p95'] / runs[0]['p95']:.2f}")
    for r in runs:
        for e in r["errors"][:5]:
            print(f"{r['label']} error: {e}")
    if any(r["errors"] for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
