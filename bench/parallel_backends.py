"""Benchmark: what running the per-file maps on Ray costs on one machine, against the local process pool in the
same run (``whisper_pipeline/parallel``).

Intake's check (``check_audio`` over the files) and preprocessing (``preprocess_rows``) on 10-15 s MP3/Opus clips
(``bench/intake_throughput.py`` makes them), each with the local pool (``workers`` processes) and with a Ray
cluster started here on this machine (``workers`` CPUs): the same work, the same number of processes. The local
pool starts its processes for each map, as a stage does (forked: cheap, but each imports what the stage needs
that the parent had not); Ray's workers live as long as the connection (task submission and scheduling instead).
Each backend is warmed first, then the two alternate, ``--repeats`` times each; the median wall time is shown.
Ray's start-up is reported on its own line. A cluster of several machines is not measured here, nor GPUs.

    nice -n 10 .venv/bin/python bench/parallel_backends.py --clips 24 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from intake_throughput import INPUTS, duration, make_clips  # noqa: E402

from whisper_pipeline.audio.inspect import check_audio, sha256_file  # noqa: E402
from whisper_pipeline.audio.preprocess import PreprocessOptions, preprocess_rows  # noqa: E402
from whisper_pipeline.data.manifests import ManifestLine  # noqa: E402
from whisper_pipeline.parallel import LOCAL_CLUSTER, ParallelSettings, map_files  # noqa: E402
from whisper_pipeline.parallel.on_ray import connect  # noqa: E402


def intake(files: list[Path], settings: ParallelSettings, _: Path) -> None:
    outcomes = map_files(check_audio, [str(f) for f in files], settings=settings)
    assert all(o.ok and o.value.status == "ok" for o in outcomes), [o.error or o.value.status for o in outcomes]


def preprocess(files: list[Path], settings: ParallelSettings, out: Path) -> None:
    rows = [
        ManifestLine(id=f"c{i}", audio=str(f), transcript="x", duration=duration(f), language="hr", speaker="s",
                     split="train", sha256=sha256_file(f))
        for i, f in enumerate(files)
    ]  # fmt: skip
    _, converted, errors = preprocess_rows(
        rows, lambda r: out / f"{r.id}.wav", {}, PreprocessOptions(), parallel=settings
    )
    assert converted == len(files) and not errors, errors


def timed(run, files: list[Path], settings: ParallelSettings) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        started = time.perf_counter()
        run(files, settings, Path(tmp))
        return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2, help="local pool processes = the Ray cluster's CPUs")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    files = make_clips(INPUTS / "clips", args.clips)
    audio_s = sum(duration(f) for f in files)

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a loopback-only cluster: no token written to ~/.ray
    backends = {
        "local pool": ParallelSettings(workers=args.workers),
        "Ray (this machine)": ParallelSettings(ray_address=LOCAL_CLUSTER, workers=args.workers),
    }
    started = time.perf_counter()
    ray = connect(backends["Ray (this machine)"])  # as a stage with ray_address: local starts it
    ray_start = time.perf_counter() - started
    try:
        rows = []
        for stage, run in (("intake check_audio", intake), ("preprocessing", preprocess)):
            for settings in backends.values():  # warm: each backend's workers import what the stage needs
                timed(run, files[: args.workers * 2], settings)
            times: dict[str, list[float]] = {name: [] for name in backends}
            for k in range(args.repeats):
                order = list(backends) if k % 2 == 0 else list(reversed(backends))
                for name in order:
                    times[name].append(timed(run, files, backends[name]))
            base = statistics.median(times["local pool"])
            for name, ts in times.items():
                wall = statistics.median(ts)
                rows.append((stage, name, wall, audio_s / wall, base / wall))
    finally:
        ray.shutdown()

    load = os.getloadavg()
    print(
        f"\n{len(files)} clips, {audio_s:.0f} s of audio; {args.workers} processes either way; median of "
        f"{args.repeats}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores"
    )
    print(f"Ray start-up (ray_address: local starts a cluster here): {ray_start:.1f} s, paid once per process\n")
    print("| stage | backend | wall s | × real time | vs local pool |")
    print("|---|---|---|---|---|")
    for stage, name, wall, xrt, ratio in rows:
        print(f"| {stage} | {name} | {wall:.2f} | {xrt:.0f}× | {ratio:.2f}× |")
    print("\nGPU: not measured (no GPU on this machine); a cluster of several machines: not measured.")


if __name__ == "__main__":
    main()
