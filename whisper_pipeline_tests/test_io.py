"""Atomic writes leave nothing behind, even when the writer is killed before its cleanup runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from whisper_pipeline.io import TEMP_MARK, atomic_path, sweep_stale_temps

KILLED_WRITER = """
import os, signal, sys
from whisper_pipeline.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a file")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writers_temp_is_swept_and_a_live_writers_is_not(tmp_path):
    target = tmp_path / "utt001.wav"
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], check=False)
    assert done.returncode == -signal.SIGKILL
    left = [p for p in tmp_path.iterdir() if TEMP_MARK in p.name]
    assert len(left) == 1 and not target.exists(), "SIGKILL skips atomic_path's cleanup"

    (tmp_path / ".user-notes.txt").write_text("not ours")
    (tmp_path / "kept.wav").write_bytes(b"done")
    abroad = tmp_path / f".x.wav.other-host.lan-4026531836-1{TEMP_MARK}abcd1234.tmp"  # a writer on another machine
    container = tmp_path / f".y.wav.{socket.gethostname()}-1-999999999{TEMP_MARK}abcd1234.tmp"  # same host name,
    lookalike = tmp_path / f".notes{TEMP_MARK}mine.txt"  # another pid namespace (a container); not our name
    for path in (abroad, container, lookalike):
        path.write_bytes(b"")
    with atomic_path(tmp_path / "utt002.wav") as live:
        live.write_bytes(b"being written")
        assert sweep_stale_temps(tmp_path) == 1
        assert live.exists() and abroad.exists() and container.exists() and lookalike.exists()
    assert not left[0].exists() and (tmp_path / "utt002.wav").read_bytes() == b"being written"
    assert (tmp_path / ".user-notes.txt").exists() and (tmp_path / "kept.wav").exists()

    day_old = time.time() - 2 * 24 * 3600
    for path in (abroad, lookalike):
        os.utime(path, (day_old, day_old))
    assert sweep_stale_temps(tmp_path) == 1 and not abroad.exists() and lookalike.exists()
    assert sweep_stale_temps(tmp_path / "missing") == 0


def test_a_long_file_name_still_gets_a_temp_file(tmp_path):
    target = tmp_path / ("ž" * 120 + ".wav")  # 245 bytes: the limit is 255
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"ok")
    assert target.read_bytes() == b"ok"


def test_preprocessing_sweeps_what_a_killed_run_left(tmp_path):
    """The stage removes a killed writer's partial file from its output folder and says so."""
    from whisper_pipeline.audio.preprocess import PreprocessOptions
    from whisper_pipeline.stages.preprocess import preprocess_stage
    from whisper_pipeline.workspace import SPLITS, Workspace

    ws = Workspace(tmp_path / "ws").ensure()
    for split in SPLITS:  # an empty language: the sweep, nothing to convert
        ws.split_manifest("hr", split).parent.mkdir(parents=True, exist_ok=True)
        ws.split_manifest("hr", split).write_text("")
    target = ws.processed_audio("hr", "anything")
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], check=False)
    assert any(TEMP_MARK in p.name for p in target.parent.iterdir())
    messages = []
    log = type("L", (), {"info": lambda self, m: messages.append(m), "error": print, "warning": print})()
    preprocess_stage(ws, "hr", PreprocessOptions(), log=log)
    assert not any(TEMP_MARK in p.name for p in target.parent.iterdir())
    assert any("removed 1 partial files" in m for m in messages)
