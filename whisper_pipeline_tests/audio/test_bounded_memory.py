"""Intake's check and preprocessing stream a file (the README's "a 1-hour file in bounded memory"): their peak
memory does not grow with the recording's length. Measured as each one's peak RSS above its imports, in a fresh
process, for a 10- and a 40-minute MP3: holding the 30 minutes between them as 16 kHz mono float32 would add
115 MB (at the source's 44.1 kHz, 317 MB)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PEAK = """
import json, resource, sys
from whisper_pipeline.audio.inspect import check_audio
from whisper_pipeline.audio.preprocess import PreprocessOptions, process_one
what, path, out = sys.argv[1:4]
imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = check_audio(path) if what == "check" else process_one(path, out, PreprocessOptions())
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - imports
print(json.dumps({"grown_mb": grown / 1024, "seconds": result.duration_s if what == "check" else result.duration}))
"""


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[int, str]:
    d = tmp_path_factory.mktemp("long")
    made = {}
    for minutes in (10, 40):
        path = d / f"{minutes}min.mp3"
        tone = f"sine=f=220:d={minutes * 60}:sample_rate=44100"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", tone, "-b:a", "32k", str(path)], check=True)
        made[minutes] = str(path)
    return made


@pytest.mark.parametrize("stage", ["check", "process"])
def test_peak_memory_does_not_grow_with_the_recording(stage, recordings, tmp_path):
    grown = {}
    for minutes, path in recordings.items():
        run = subprocess.run(
            [sys.executable, "-c", PEAK, stage, path, str(tmp_path / f"{minutes}.wav")],
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(run.stdout.strip().splitlines()[-1])
        assert abs(measured["seconds"] - minutes * 60) < 1, measured
        grown[minutes] = measured["grown_mb"]
    assert grown[40] - grown[10] < 40, f"{stage}: peak memory above imports {grown} MB (10 vs 40 min)"
