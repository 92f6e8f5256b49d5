"""`python -m whisper_pipeline.doctor`, run for real on this machine: what it finds, and what it refuses."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import torch

from whisper_pipeline.doctor import MIN_FREE_GB
from whisper_pipeline.instance import POSTGRES_ENV_VARS
from whisper_pipeline.models import source
from whisper_pipeline.workspace import REPO_ROOT


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "whisper_pipeline.doctor", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def clean_env(workspace_root: Path, **extra: str) -> dict[str, str]:
    """This machine's environment with the pipeline's own settings replaced (no DAGSTER_HOME from elsewhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHISPER_PIPELINE_", "DAGSTER_"))}
    env["WHISPER_PIPELINE_HOME"] = str(workspace_root)
    env.update(extra)
    return env


def test_doctor_on_this_machine_is_ready(tmp_path):
    proc = doctor(clean_env(tmp_path / "ws"), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True and report["failed"] == []
    required = [
        "python",
        "package",
        "torch",
        "torchaudio",
        "ffmpeg",
        "espeak-ng",
        "base_model",
        "workspace",
        "instance",
    ]
    assert list(checks) == required[:3] + ["cuda"] + required[3:] + ["lock"]
    for name in [*required, "lock"]:
        if name == "workspace" and checks[name]["details"]["free_gb"] < MIN_FREE_GB:
            assert checks[name]["status"] == "WARN", checks[name]  # a small disk is a warning, not a failure
        else:
            assert checks[name]["status"] == "OK", checks[name]
    assert checks["torch"]["details"]["version"] == torch.__version__
    if torch.cuda.is_available():
        assert checks["cuda"]["status"] == "OK" and checks["cuda"]["details"]["gpus"][0]["total_gb"] > 0
    else:
        assert checks["cuda"]["status"] == "WARN" and checks["cuda"]["required"] is False
    assert checks["ffmpeg"]["details"]["path"] == shutil.which("ffmpeg")
    # the builtin model's files hash to exactly the digests pinned in models/source.py
    pinned = {name: digest for files in source.BUILTIN_FILES.values() for name, digest in files.items()}
    assert checks["base_model"]["details"]["files"] == pinned
    combined = "".join(f"{n} {d}\n" for n, d in sorted(pinned.items()))
    assert checks["base_model"]["details"]["sha256"] == hashlib.sha256(combined.encode()).hexdigest()
    assert checks["workspace"]["details"]["path"] == str(tmp_path / "ws")
    assert checks["workspace"]["details"]["free_gb"] > 0
    instance = checks["instance"]["details"]
    assert instance["storage"] == "sqlite" and instance["dagster_home"] == str(tmp_path / "ws" / "dagster_home")
    assert not (tmp_path / "ws").exists(), "the doctor only looks; it must not create the workspace"


def test_doctor_fails_without_ffmpeg_a_writable_workspace_or_postgres_settings(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with espeak-ng but no ffmpeg
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").symlink_to(shutil.which("espeak-ng"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = clean_env(blocker / "ws", PATH=str(bin_dir), WHISPER_PIPELINE_INSTANCE="postgres")
    proc = doctor(env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "FAIL  ffmpeg      ffmpeg not found on PATH" in lines
    assert any(line.startswith("OK    espeak-ng") for line in lines)
    assert any(line.startswith("FAIL  workspace") and "not writable" in line for line in lines)
    assert any(line.startswith("FAIL  instance") and "DAGSTER_PG_USERNAME" in line for line in lines)
    assert any("→ install ffmpeg (Debian: apt-get install ffmpeg" in line for line in lines)
    assert lines[-1] == "FAILED: ffmpeg, workspace, instance"


def test_doctor_reaches_a_postgres_port(tmp_path):
    """The PostgreSQL instance check connects to DAGSTER_PG_HOST:PORT (here a real listening socket)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        settings = {name: "doctor" for name in POSTGRES_ENV_VARS}
        settings.update(DAGSTER_PG_HOST="127.0.0.1", DAGSTER_PG_PORT=str(port))
        env = clean_env(tmp_path / "ws", WHISPER_PIPELINE_INSTANCE="postgres", **settings)
        answered = json.loads(doctor(env, "--json").stdout)
    closed = json.loads(doctor(env, "--json").stdout)  # the same port, nobody listening any more
    by_name = {c["name"]: c for c in answered["checks"]}
    assert by_name["instance"]["status"] == "OK", by_name["instance"]
    assert by_name["instance"]["details"]["storage"] == "postgres"
    assert f"127.0.0.1:{port} answers" in by_name["instance"]["summary"]
    assert closed["failed"] == ["instance"]
