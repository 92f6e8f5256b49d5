"""``bench/gpu_check.sh``, the one command a lent GPU machine runs for issue 16's figures, must work the first time
there (15 minutes of device time, no debugging): its smoke mode runs the same steps here, on CPU with a tiny
random-init model, from a kit ``bench/gpu_kit.py`` packs (clips and tokenizer; the wheels need PyPI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from whisper_pipeline.workspace import REPO_ROOT


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    kit = tmp_path_factory.mktemp("gpu") / "kit"
    packed = subprocess.run(
        [
            sys.executable,
            "bench/gpu_kit.py",
            "--out",
            str(kit),
            "--no-wheels",
            "--align-clips",
            "3",
            "--train-clips",
            "1",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert packed.returncode == 0, packed.stderr[-3000:]
    assert (kit / "align" / "clips.json").exists() and (kit / "train" / "manifest.jsonl").exists()
    assert "/" not in (kit / "train" / "manifest.jsonl").read_text().split('"audio": "')[1].split('"')[0]
    return kit


def test_the_gpu_check_runs_from_its_kit_and_prints_every_table(kit, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ}
    # as on the GPU machine: no ffmpeg, ffprobe, espeak-ng or sox on the PATH, and no PyAV
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "timeout", "tee", "dirname", "mkdir"):
        (tools / tool).symlink_to(shutil.which(tool))
    no_pyav = tmp_path / "site"
    no_pyav.mkdir()
    (no_pyav / "sitecustomize.py").write_text("import sys\nsys.modules['av'] = None  # import av fails\n")
    env.update(
        GPU_CHECK_SMOKE="1",
        GPU_CHECK_KIT=str(kit),
        GPU_CHECK_PYTHON=sys.executable,
        OUT=str(out),
        PATH=str(tools),
        PYTHONPATH=f"{no_pyav}{os.pathsep}{REPO_ROOT}",
    )
    ran = subprocess.run(
        [shutil.which("bash"), "bench/gpu_check.sh"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = (out / "summary.log").read_text() if (out / "summary.log").exists() else ""
    assert ran.returncode == 0, (summary + ran.stdout + ran.stderr)[-4000:]
    assert summary.count(": exit 0,") == 2, summary
    alignment = (out / "alignment.log").read_text()
    assert "RANDOM-INIT whisper-test weights" in alignment
    assert "| one file at a time (align_file, decoded first: no ffmpeg here) |" in alignment, alignment[-2000:]
    assert "| batches of 16 (align_files) |" in alignment and "'failed'" not in alignment
    training = (out / "training_test.log").read_text()
    assert "3 clips repeated to 6 samples, 2 loader workers" in training, training[-2000:]
    assert "datasets.map" in training and "2 processes" in training
    for row in (
        "| plain Seq2SeqTrainer",
        "| ours (train_whisper)",
        "| plain: WhisperFeatureExtractor",
        "| ours: audio",
    ):
        assert row in training, row


def test_parts_left_without_time_fail_the_check_and_a_missing_kit_stops_it(kit, tmp_path):
    """What ``run`` reports back: the exit status and the summary say a part did not run."""
    env = {**os.environ, "GPU_CHECK_SMOKE": "1", "GPU_CHECK_KIT": str(kit), "OUT": str(tmp_path)}
    env.update(GPU_CHECK_PYTHON=sys.executable, GPU_CHECK_BUDGET="1")
    ran = subprocess.run(["bash", "bench/gpu_check.sh"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert ran.returncode == 1
    assert (tmp_path / "summary.log").read_text().count("skipped") == 2
    env["GPU_CHECK_KIT"] = str(tmp_path / "none")
    ran = subprocess.run(["bash", "bench/gpu_check.sh"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert ran.returncode == 2 and "run bench/gpu_kit.py first" in ran.stderr
