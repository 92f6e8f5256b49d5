"""``bench/gpu_check.sh``, the one command a lent GPU machine runs for issue 16's figures, must work the first time
there (15 minutes of device time, no debugging): its smoke mode runs the same steps here, on CPU with a tiny
random-init model, from a kit ``bench/gpu_kit.py`` packs (clips and tokenizer; the wheels need PyPI)."""

from __future__ import annotations

import os
import subprocess
import sys

from whisper_pipeline.workspace import REPO_ROOT


def test_the_gpu_check_runs_from_its_kit_and_prints_every_table(tmp_path):
    kit, out = tmp_path / "kit", tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
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
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert packed.returncode == 0, packed.stderr[-3000:]
    assert (kit / "align" / "clips.json").exists() and (kit / "train" / "manifest.jsonl").exists()
    assert "/" not in (kit / "train" / "manifest.jsonl").read_text().split('"audio": "')[1].split('"')[0]

    env.update(GPU_CHECK_SMOKE="1", GPU_CHECK_KIT=str(kit), GPU_CHECK_PYTHON=sys.executable, OUT=str(out))
    ran = subprocess.run(
        ["bash", "bench/gpu_check.sh"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-3000:]
    alignment = (out / "alignment.log").read_text()
    assert "RANDOM-INIT whisper-test weights" in alignment
    assert "| one file at a time (align_file) |" in alignment and "| batches of 16 (align_files) |" in alignment
    training = (out / "training_test.log").read_text()
    assert "3 clips repeated to 6 samples" in training, training[-2000:]
    for row in (
        "| plain Seq2SeqTrainer",
        "| ours (train_whisper)",
        "| plain: WhisperFeatureExtractor",
        "| ours: audio",
    ):
        assert row in training, row
