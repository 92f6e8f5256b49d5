"""The service as a real process for the serving tests: started with its command line, driven over
HTTP. One tiny-model service is shared by the test modules (starting one costs seconds to minutes on a
busy machine); its TMPDIR is a test folder, so a test can see what the service leaves behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from whisper_pipeline.models.registry import set_latest_run
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_wav, free_port

SENTENCE = "Dobar dan, danas je lijep i sunčan dan u Zagrebu."
UPLOAD_MB = 1  # the tiny service's --max-upload-mb
AUDIO_MINUTES = 10  # the tiny service's --max-audio-minutes


@dataclass
class Service:
    url: str
    tmpdir: Path  # the service process's TMPDIR
    proc: subprocess.Popen


def start_service(
    workspace: Path, base_model: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "whisper_pipeline.serving", "--port", str(port)]
    cmd += ["--workspace", str(workspace), "--base-model", base_model, *extra]
    # its output goes to a file, not a pipe: nobody drains a pipe while tests run, and once its 64 KB
    # buffer is full of access-log lines every write blocks and the whole service hangs; the file sits beside the
    # workspace (in the test's own tmp folder, removed with it), not in /tmp where every run left one
    fd, log_name = tempfile.mkstemp(prefix="whisper-service-", suffix=".log", dir=Path(workspace).parent)
    with os.fdopen(fd, "w") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the service exited:\n" + Path(log_name).read_text(errors="replace")[-5000:])
        try:
            if requests.get(url + "/health", timeout=2).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.5)
    proc.kill()
    raise TimeoutError("the service did not answer /health within 120 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def post(url: str, path: Path, **form) -> requests.Response:
    with open(path, "rb") as f:
        return requests.post(url, files={"file": (path.name, f)}, data=form, timeout=300)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def audio(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("serve-audio")
    wav = espeak_wav(SENTENCE, "hr+m3", d / "pozdrav.wav")
    mp3 = d / "pozdrav.mp3"
    ffmpeg("-i", str(wav), "-ar", "44100", "-ac", "2", str(mp3))
    bad = d / "notes.wav"
    bad.write_text("not audio at all\n")
    return {"wav": wav, "mp3": mp3, "bad": bad}


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory, tiny_model_dir) -> Iterator[Service]:
    """Runs ``tiny`` and ``tiny_sr`` (a one-language run: its generation config says sr), and
    ``broken`` (a model file that cannot be loaded). ``--max-loaded 1``, so asking for the two runs in
    turn evicts one for the other."""
    ws = Workspace.at(tmp_path_factory.mktemp("serve-ws")).ensure()
    shutil.copytree(tiny_model_dir, ws.run_dir("tiny"))
    shutil.copytree(tiny_model_dir, ws.run_dir("tiny_sr"))
    config = json.loads((ws.run_dir("tiny_sr") / "generation_config.json").read_text())
    (ws.run_dir("tiny_sr") / "generation_config.json").write_text(json.dumps({**config, "language": "sr"}))
    shutil.copytree(tiny_model_dir, ws.run_dir("broken"))
    (ws.run_dir("broken") / "model.safetensors").write_bytes(b"truncated copy")
    set_latest_run(ws, "tiny")
    tmpdir = tmp_path_factory.mktemp("serve-tmpdir")
    env = {
        "TMPDIR": str(tmpdir),
        # torch keeps a compile cache under TMPDIR; elsewhere, so TMPDIR holds only what the service leaves
        "TORCHINDUCTOR_CACHE_DIR": str(tmp_path_factory.mktemp("inductor")),
        # a 64-wide model gains nothing from threads, and on a shared 2-core machine two torch threads
        # waiting on each other made each request ~10× slower
        "OMP_NUM_THREADS": "1",
    }
    limits = [
        "--max-upload-mb",
        str(UPLOAD_MB),
        "--max-audio-minutes",
        str(AUDIO_MINUTES),
        "--max-queue",  # the concurrency tests send 6 at once; back-pressure is tested in test_admission.py
        "8",
    ]
    proc, url = start_service(ws.root, tiny_model_dir, *limits, "--max-loaded", "1", env=env)
    yield Service(url, tmpdir, proc)
    stop(proc)


@pytest.fixture(scope="session")
def tiny_service(tiny_server) -> str:
    return tiny_server.url
