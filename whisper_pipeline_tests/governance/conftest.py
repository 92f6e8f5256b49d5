"""A workspace after the whole data chain for hr (intake → … → alignments, with the tiny random Whisper), with
one harvested-style recording (provenance, cues and subtitle sidecars), an augmented copy of the training
data, and a packaged run whose manifest was written by the real training code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from whisper_pipeline.alignment.align import AlignmentSettings, load_aligner
from whisper_pipeline.audio.augment import AugmentConfig, Augmenter, augment_offline
from whisper_pipeline.audio.preprocess import PreprocessOptions
from whisper_pipeline.data.manifests import read_lines, write_lines
from whisper_pipeline.io import write_json, write_text
from whisper_pipeline.models.registry import set_latest_run
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.stages.align import align_stage
from whisper_pipeline.stages.preprocess import preprocess_stage
from whisper_pipeline.training.package import write_run_manifest
from whisper_pipeline.workspace import SPLITS, Workspace
from whisper_pipeline_tests.conftest import espeak_wav
from whisper_pipeline_tests.stages.data_chain import ListLog, run_chain

LANG = "hr"
HARVESTED_URL = "https://www.youtube.com/@javni-arhiv/videos"
HARVESTED_ID = "abc123XYZ_0"
RUN = "tiny-governance"


def add_harvested_item(ws: Workspace, tmp: Path) -> Path:
    """What ``harvest/ytdlp.py`` leaves for one downloaded video: audio, transcript, cues, subtitles and
    the provenance sidecar, under ``uploads/<lang>/<extractor>-<id>/``."""
    text = "Dobar dan, ovo je javna snimka iz arhiva."
    stem = f"Youtube-{HARVESTED_ID}"
    folder = ws.language_uploads(LANG) / stem
    folder.mkdir(parents=True)
    audio = folder / f"{stem}.wav"
    shutil.copy(espeak_wav(text, "hr", tmp / "harvested.wav"), audio)
    write_text(folder / f"{stem}.txt", text + "\n")
    write_text(folder / f"{stem}.hr.vtt", f"WEBVTT\n\n00:00.000 --> 00:03.000\n{text}\n")
    write_json(folder / f"{stem}.cues.json", {"subtitles": str(folder / f"{stem}.hr.vtt"), "cues": []})
    write_json(
        folder / f"{stem}.source.json",
        {
            "source_url": HARVESTED_URL,
            "webpage_url": f"https://www.youtube.com/watch?v={HARVESTED_ID}",
            "title": "Javna snimka",
            "uploader": "Javni arhiv",
            "channel": "Javni arhiv",
            "license": "Creative Commons Attribution license (reuse allowed)",
            "configured_license": "CC-BY",
            "downloaded_at": "2026-11-02T10:00:00+00:00",
            "extractor": "youtube",
            "extractor_key": "Youtube",
            "id": HARVESTED_ID,
            "duration": 3,
            "language": LANG,
            "speaker": "per_video",
            "subtitles": str(folder / f"{stem}.hr.vtt"),
        },
    )
    return audio


def package_run(ws: Workspace, tiny_model_dir: str) -> Path:
    """A servable run whose ``run_manifest.json`` (and training-data record) the real training code wrote
    from the training manifests it trained on."""
    run_dir = ws.run_dir(RUN)
    shutil.copytree(tiny_model_dir, run_dir)
    manifests = [str(ws.ready_manifest(LANG, s)) for s in ("train", "validation")]
    summary = {"settings": {"languages": [LANG], "run_name": RUN}, "device": "cpu", "languages": [LANG]}
    write_run_manifest(run_dir, summary, manifests, run_id="governance-test")
    set_latest_run(ws, RUN)
    return run_dir


@pytest.fixture(scope="session")
def governed_template(tmp_path_factory, tiny_corpus, tiny_model_dir) -> Path:
    """The prepared workspace, made once; each test works on a copy (``governed``)."""
    tmp = tmp_path_factory.mktemp("governed")
    ws = Workspace.at(tmp / "ws")
    shutil.copytree(tiny_corpus, ws.uploads)
    ws.ensure()
    add_harvested_item(ws, tmp)
    log = ListLog()
    run_chain(ws, LANG, log=log)
    preprocess_stage(ws, LANG, PreprocessOptions(), ParallelSettings(workers=1), log=log)
    align_stage(ws, LANG, AlignmentSettings(), lambda: load_aligner(tiny_model_dir, "cpu"), log=log)
    train = ws.training_manifest(LANG, "train")
    off = {k: {"p": 0.0} for k in ("noise", "speed", "pitch", "reverb")}
    augmenter = Augmenter(AugmentConfig.model_validate({**off, "gain": {"p": 1.0}}))
    augmented_dir = ws.processed / "augmented" / LANG
    augmented = augment_offline(read_lines(train), augmenter, augmented_dir)
    write_lines(augmented_dir / "augmented.jsonl", augmented)
    package_run(ws, tiny_model_dir)
    assert {l.split for s in SPLITS for l in read_lines(ws.training_manifest(LANG, s))} == set(SPLITS)
    return ws.root


@pytest.fixture
def governed(tmp_path, governed_template) -> Workspace:
    """A copy of the prepared workspace. Absolute paths inside its files name the template's location,
    so they are rewritten to the copy's (the files are what the stages would have written there)."""
    root = tmp_path / "ws"
    shutil.copytree(governed_template, root)
    old, new = str(governed_template), str(root)
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".jsonl", ".csv", ".txt"}:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            if old in text:
                path.write_text(text.replace(old, new), encoding="utf-8", errors="surrogateescape")
    return Workspace.at(root)


def speaker_of(ws: Workspace, index: int = 0) -> str:
    """A hr speaker of the corpus (sorted), one of those in the training data."""
    train = read_lines(ws.training_manifest(LANG, "train"))
    return sorted({l.speaker for l in train if not l.speaker.startswith("Youtube")})[index]


def inventory_rows(ws: Workspace) -> list[dict]:
    return [json.loads(l) for l in ws.inventory(LANG).read_text().splitlines() if l.strip()]
