"""Session fixtures: small real data made once (espeak-ng + ffmpeg), a tiny random Whisper, the real base model."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.sample_data import generate_corpus
from whisper_pipeline.workspace import LANGUAGES, Workspace

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The tests choose their own instance: a developer's exported choice must not put them on a team's PostgreSQL
os.environ.pop("WHISPER_PIPELINE_INSTANCE", None)

# Debian's chromium for the browser tests (scripts/setup.sh installs it); flags keep it off the network
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ON_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")


def pytest_report_header(config) -> str:
    """Free disk at the top of every run's log: a disk filling up mid-run shows as errors in unrelated tests."""
    base = Path(config.option.basetemp or tempfile.gettempdir()).absolute()
    where = next(p for p in (base, *base.parents) if p.exists())
    return f"disk free where tests write ({base}): {shutil.disk_usage(where).free / 2**30:.1f} GiB"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium for browser tests: skipped where it is missing, except under CI=true, where a
    missing browser must fail the run rather than quietly skip what it was meant to check."""
    if CHROMIUM:
        return CHROMIUM
    if ON_CI:
        pytest.fail("chromium is not installed, and CI=true: scripts/setup.sh installs Debian's chromium")
    pytest.skip("Debian chromium is installed by scripts/setup.sh")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """uploads/ with 3 speakers × 2 sentences per language, mixed formats, plus bad files and a duplicate."""
    uploads = tmp_path_factory.mktemp("corpus") / "uploads"
    generate_corpus(uploads, LANGUAGES, speakers=3, sentences_per_speaker=2, bad_files=True)
    return uploads


@pytest.fixture
def workspace(tmp_path, tiny_corpus) -> Workspace:
    """A fresh workspace whose uploads are a copy of the tiny corpus."""
    ws = Workspace.at(tmp_path / "ws")
    shutil.copytree(tiny_corpus, ws.uploads)
    return ws.ensure()


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A randomly initialised, very small Whisper with the real multilingual tokenizer."""
    from whisper_pipeline.models.random_init import save_random_whisper

    return save_random_whisper(tmp_path_factory.mktemp("tiny-whisper"), "test", alignment_heads=[[0, 0], [1, 1]])


@pytest.fixture(scope="session")
def real_base_model(tmp_path_factory) -> str:
    """The real multilingual whisper-base, converted from the packaged CTranslate2 files."""
    return resolve_model_source(BUILTIN_BASE, tmp_path_factory.mktemp("base-models"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def espeak_wav(text: str, voice: str, path: Path) -> Path:
    import subprocess

    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


def espeak_16k(text: str, voice: str, path: Path) -> Path:
    """Speech as ``processed_audio`` leaves it: 16 kHz mono WAV (espeak-ng speaks at 22.05 kHz)."""
    import subprocess

    raw = espeak_wav(text, voice, path.with_name(f"{path.stem}.raw.wav"))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(path)], check=True)
    return path
