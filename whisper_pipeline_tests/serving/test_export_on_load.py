"""Under ``--backend auto`` a model without a CTranslate2 export gets one on first load (issue 14: "so it
always has one"): once, atomically, safely when two processes load it at once, and a model that cannot
be exported is served with ``transformers`` after a logged warning, leaving nothing behind."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from whisper_pipeline.models.registry import ct2_export
from whisper_pipeline.serving.backends import choose_backend

LOAD = """
import json, logging, sys, time
logging.basicConfig(level=logging.INFO, format="%(message)s")
from whisper_pipeline.serving.backends import choose_backend
while time.time() < float(sys.argv[2]):  # both processes start choosing at the same moment
    time.sleep(0.01)
kind, found = choose_backend(sys.argv[1])
print(json.dumps([kind, str(found)]))
"""


def copy_of(tiny_model_dir: str, target: Path) -> Path:
    shutil.copytree(tiny_model_dir, target, ignore=shutil.ignore_patterns("ct2*"))
    return target


def test_auto_exports_on_first_load_once(tiny_model_dir, tmp_path):
    run = copy_of(tiny_model_dir, tmp_path / "run")
    assert ct2_export(run) is None
    assert choose_backend(str(run), export=False) == ("transformers", None), "nothing is written when not loading"
    assert not (run / "ct2").exists()
    assert choose_backend(str(run)) == ("ct2", run / "ct2")
    assert ct2_export(run) == run / "ct2"
    stamp = (run / "ct2" / "model.bin").stat().st_mtime_ns
    assert choose_backend(str(run)) == ("ct2", run / "ct2")
    assert (run / "ct2" / "model.bin").stat().st_mtime_ns == stamp, "the export is kept, not redone"
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == [], "no temporary directory left"


def test_two_processes_loading_at_once_export_once(tiny_model_dir, tmp_path):
    import time

    run = copy_of(tiny_model_dir, tmp_path / "run")
    start_at = str(time.time() + 8)  # after both interpreters have imported what they need
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD, str(run), start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    answers = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert answers == [["ct2", str(run / "ct2")]] * 2
    exports = sum(err.count("exporting to CTranslate2") for _, err in outs)
    assert exports == 1, [err[-2000:] for _, err in outs]
    from faster_whisper import WhisperModel

    WhisperModel(str(run / "ct2"), device="cpu", compute_type="int8")  # a whole export, readable
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []


def test_a_model_that_cannot_be_exported_is_served_with_transformers(tiny_model_dir, tmp_path, caplog):
    run = copy_of(tiny_model_dir, tmp_path / "broken")
    (run / "model.safetensors").write_bytes(b"truncated copy")
    before = sorted(p.name for p in run.iterdir())
    with caplog.at_level(logging.WARNING, logger="whisper_pipeline.serving.backends"):
        assert choose_backend(str(run)) == ("transformers", None)
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and str(run) in warning[0] and "serving it with transformers" in warning[0], warning
    assert sorted(p.name for p in run.iterdir()) == before, "no export, temporary directory or lock left behind"
    with pytest.raises(Exception):  # noqa: B017 - whatever the converter raises: --backend ct2 does not hide it
        choose_backend(str(run), "ct2")
    assert sorted(p.name for p in run.iterdir()) == before
