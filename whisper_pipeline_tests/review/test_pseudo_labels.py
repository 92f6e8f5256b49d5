"""Pseudo-labels (``checkpoint`` config ``pseudo_labels``, default off): which review-queue drafts become
training lines and why the others do not, the lines marked ``pseudo_label`` with 16 kHz audio, the job file
training on them, and (a one-step tiny training run) their count, hours and threshold in the run manifest."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from whisper_pipeline.audio.ffmpeg import decode, write_wav16
from whisper_pipeline.data.manifests import read_lines
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.review.queue import write_queue
from whisper_pipeline.stages.review import prepare_pseudo_labels
from whisper_pipeline.stages.train import prepare_training
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.stages.test_preprocess import ListLog

MODEL = "run:tiny@2026-11-29T00:00:00Z"


def queue_row(ws: Workspace, stem: str, score: float, draft: str, rank: int) -> dict:
    """A review-queue row for the transcript-less ``spk2/<stem>.wav`` of the intake's inventory."""
    inv = next(r for r in read_jsonl(ws.inventory("hr")) if r["filename"] == f"hr/spk2/{stem}.wav")
    return {
        "rank": rank,
        "file": inv["filename"],
        "duration_s": inv["duration_s"],
        "score": score,
        "avg_logprob": -0.1,
        "no_speech_prob": 0.01,
        "compression_ratio": 1.2,
        "draft": draft,
        "transcript_path": str(Path(inv["audio"]).with_suffix(".txt")),
        "audio": inv["audio"],
        "file_id": inv["file_id"],
        "speaker": inv["speaker"],
        "source": inv["source"],
        "sha256": inv["sha256"],
        "model": MODEL,
    }


def write_review_queue(ws: Workspace) -> None:
    """d: below the threshold; tone: confident but empty; c: confident."""
    rows = [
        queue_row(ws, "d", 0.5, "Molim vas zatvorite vrata.", 1),
        queue_row(ws, "tone", 0.95, "  ", 2),
        queue_row(ws, "c", 0.9, "Ova snimka nema „transkript”.", 3),
    ]
    write_queue(ws.review_queue("hr"), rows)


def test_only_confident_drafts_become_marked_training_lines(review_ws):
    ws, log = review_ws, ListLog()
    write_review_queue(ws)
    found = prepare_pseudo_labels(ws, ["hr", "sr"], 0.8, log)
    assert found.manifests == [ws.pseudo_label_manifest("hr")]
    assert f"{ws.review_queue('sr')} missing: materialize review_queue for sr first" in log.warnings[0]
    (line,) = read_lines(ws.pseudo_label_manifest("hr"))
    assert line.id == "hr-spk2-c" and line.split == "train" and line.speaker == "spk2"
    assert line.transcript == 'Ova snimka nema "transkript".', "normalized like every training text"
    assert line.extra == {"pseudo_label": True, "pseudo_label_score": 0.9, "pseudo_label_model": MODEL}
    info = sf.info(line.audio)
    assert (info.samplerate, info.channels) == (16000, 1) and abs(info.duration - line.duration) < 1e-3
    assert Path(line.audio).is_relative_to(ws.processed) and line.source_audio.endswith("spk2/c.wav")
    assert found.summary == {
        "enabled": True,
        "threshold": 0.8,
        "count": 1,
        "hours": round(line.duration / 3600, 4),
        "skipped": {"below_threshold": 1, "empty_draft": 1},
    }
    # the speaker is held out for evaluation: none of its files are trained on
    write_jsonl(ws.split_manifest("hr", "test"), [{"id": "x", "speaker": "spk2"}])
    assert prepare_pseudo_labels(ws, ["hr"], 0.8).summary["skipped"]["held_out_speaker"] == 1
    # a person saved the transcript: theirs wins, through the next intake
    write_jsonl(ws.split_manifest("hr", "test"), [])
    Path(ws.uploads / "hr" / "spk2" / "c.txt").write_text("Ova snimka nema transkript.\n", encoding="utf-8")
    held = prepare_pseudo_labels(ws, ["hr"], 0.8)
    assert held.summary["count"] == 0 and held.summary["skipped"]["transcript_saved"] == 1
    assert read_lines(ws.pseudo_label_manifest("hr")) == []


def training_data(ws: Workspace) -> None:
    """hr's two transcribed files as 16 kHz training and validation lines."""
    for split, stem in (("train", "a"), ("validation", "b")):
        wav = ws.processed_audio("hr", f"hr-spk1-{stem}")
        wav.parent.mkdir(parents=True, exist_ok=True)
        audio = decode(ws.uploads / "hr" / "spk1" / f"{stem}.wav")
        write_wav16(wav, audio)
        line = {"id": f"hr-spk1-{stem}", "audio": str(wav), "transcript": "Dobar dan.", "duration": audio.size / 16000}
        write_jsonl(ws.training_manifest("hr", split), [{**line, "language": "hr", "speaker": "spk1", "split": split}])


def test_a_run_trains_on_them_and_says_so(review_ws, tiny_model_dir):
    from whisper_pipeline.training.cli import run_job

    ws = review_ws
    write_review_queue(ws)
    training_data(ws)
    off = prepare_training(ws, TrainSettings(run_name="plain", languages=["hr"]), lambda: tiny_model_dir, "cpu")
    assert off.job["train_manifests"] == [str(ws.training_manifest("hr", "train"))], "default off"
    assert off.metadata["pseudo_labels"] == {"enabled": False}
    settings = TrainSettings(
        run_name="pseudo",
        languages=["hr"],
        max_steps=1,
        batch_size=2,
        predict_with_generate=False,
        pseudo_labels=True,
        pseudo_label_min_score=0.8,
    )
    launch = prepare_training(ws, settings, lambda: tiny_model_dir, "cpu")
    assert launch.job["train_manifests"] == [
        str(ws.training_manifest("hr", "train")),
        str(ws.pseudo_label_manifest("hr")),
    ]
    assert launch.metadata["pseudo_labels"]["count"] == 1
    summary = run_job(launch.job)
    assert summary["train_samples"] == 2, "the transcribed line and the pseudo-label"
    manifest = json.loads(ws.run_manifest("pseudo").read_text())
    hours = read_lines(ws.pseudo_label_manifest("hr"))[0].duration / 3600
    assert manifest["pseudo_labels"] == {"enabled": True, "threshold": 0.8, "count": 1, "hours": round(hours, 4)}
    assert str(ws.pseudo_label_manifest("hr")) in manifest["data_manifests"]
