"""One Ray cluster on 127.0.0.1 for the tests of this package, started by them and always shut down.

As a deployment runs one: a head node started with ``ray start --head`` (2 CPUs, no dashboard) in a process of its
own, and the tests' maps reaching it through Ray Client at ``ray://127.0.0.1:<port>``, the address a Dagster step
would be given. Package-scoped (Ray start-up costs seconds on a small machine); the rest of the suite then runs in a
process no longer connected to Ray. Token authentication (on by default in Ray 2.60, with a token written to
``~/.ray``) is off for this loopback-only cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from whisper_pipeline.parallel import RAY_ADDRESS_ENV, ParallelSettings
from whisper_pipeline.workspace import REPO_ROOT
from whisper_pipeline_tests.conftest import free_port

START_TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def no_deployment_address(monkeypatch):
    """A developer's exported cluster address must not decide which backend a test uses."""
    monkeypatch.delenv(RAY_ADDRESS_ENV, raising=False)


@pytest.fixture(scope="package")
def ray_cluster(tmp_path_factory) -> Iterator[ParallelSettings]:
    """Settings whose maps run on the tests' own Ray cluster, through Ray Client. The cluster declares one (logical)
    GPU, as a GPU cluster would, so what the step's machine decides for it can be tested on a CPU-only machine; the
    tests' tasks ask for none, so none runs with it."""
    import ray

    assert not ray.is_initialized(), "another test left Ray connected"
    gcs_port, client_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("ray-head") / "ray-start.log"
    # the workers import the tests' task functions (whisper_pipeline itself is installed, as in a deployment's image)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(REPO_ROOT)}
    with pytest.MonkeyPatch.context() as mp, open(log, "w") as out:
        mp.setenv("RAY_AUTH_MODE", "disabled")
        head = subprocess.Popen(
            [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--port", str(gcs_port),
             "--ray-client-server-port", str(client_port), "--node-ip-address", "127.0.0.1", "--num-cpus", "2",
             "--num-gpus", "1",
             "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory", str(100 * 2**20)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
        )  # fmt: skip
        try:
            _wait_for_client_server(head, client_port, log)
            yield ParallelSettings(ray_address=f"ray://127.0.0.1:{client_port}", workers=2)
        finally:
            if ray.is_initialized():
                ray.shutdown()
            head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started, only those
            try:
                head.wait(timeout=60)
            except subprocess.TimeoutExpired:
                head.kill()
                head.wait()


def _wait_for_client_server(head: subprocess.Popen, port: int, log: Path) -> None:
    import socket

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"Ray Client server not up on port {port} after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
