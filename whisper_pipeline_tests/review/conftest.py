"""A small upload folder with transcript-less audio (espeak-ng speech, and a tone nobody speaks in), and a tiny
random Whisper promoted to production with its CTranslate2 export (what the review queue drafts with)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from whisper_pipeline.data.inventory import IntakeRules
from whisper_pipeline.harvest.sources import HarvestOptions
from whisper_pipeline.models import registry
from whisper_pipeline.stages.intake import intake
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_wav

TRANSCRIBED = {"spk1/a": "Dobar dan, kako ste danas?", "spk1/b": "Sutra idemo na more."}
UNTRANSCRIBED = {"spk2/c": "Ova snimka nema transkript.", "spk2/d": "Molim vas, zatvorite vrata."}
TONE = "spk2/tone"  # a steady tone with noise: no speech at all


@pytest.fixture(scope="session")
def review_uploads(tmp_path_factory) -> Path:
    """``uploads/hr/``: two transcribed files, two spoken files without a transcript, one tone without one."""
    uploads = tmp_path_factory.mktemp("review-corpus") / "uploads"
    for stem, text in {**TRANSCRIBED, **UNTRANSCRIBED}.items():
        path = uploads / "hr" / f"{stem}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        espeak_wav(text, "hr", path)
        if stem in TRANSCRIBED:
            path.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
    tone = uploads / "hr" / f"{TONE}.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3:sample_rate=16000",
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=d=3:c=pink:r=16000:a=0.05",
            "-filter_complex",
            "amix=inputs=2",
            "-ac",
            "1",
            str(tone),
        ],
        check=True,
    )
    return uploads


@pytest.fixture
def review_ws(tmp_path, review_uploads) -> Workspace:
    """A fresh workspace over a copy of ``review_uploads``, its hr intake done."""
    ws = Workspace.at(tmp_path / "ws")
    shutil.copytree(review_uploads, ws.uploads)
    ws.ensure()
    intake(ws, "hr", IntakeRules(), HarvestOptions(harvest=False))
    return ws


@pytest.fixture(scope="session")
def tiny_ct2_run(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny random Whisper packaged as a run with its CTranslate2 export (made once)."""
    from whisper_pipeline.training.package import export_ct2

    run = tmp_path_factory.mktemp("review-run") / "tiny-review"
    shutil.copytree(tiny_model_dir, run)
    export_ct2(run)
    return run


def promote_tiny(ws: Workspace, tiny_ct2_run: Path, name: str = "tiny-review") -> str:
    """Put the tiny run into ``ws`` and make it production (as ``production_model`` would)."""
    shutil.copytree(tiny_ct2_run, ws.run_dir(name))
    registry.promote(ws, name, {"hr": 0.5}, reason="test")
    return name
