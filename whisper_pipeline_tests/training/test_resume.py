"""Training in its own process: killed mid-run (SIGKILL, a real crash) and resumed from the newest
complete checkpoint, it ends where an uninterrupted run ends. Also the package a run leaves:
manifest, model card, processor, CT2 copy."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from whisper_pipeline.io import read_jsonl, write_json
from whisper_pipeline.training.disk import WEIGHT_BYTES, bytes_under, checkpoint_bytes, checkpoints_held, run_bytes
from whisper_pipeline.training.settings import TrainSettings

STEPS = 30
LOSS_TOLERANCE = 1e-3  # relative difference of the loss logged at the last step


def job_file(tmp_path: Path, name: str, model: str, manifest: Path, **settings) -> Path:
    s = TrainSettings(
        **{
            "run_name": name,
            "max_steps": STEPS,
            "batch_size": 2,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "eval_steps": 5,
            "save_total_limit": 2,
            "warmup_ratio": 0.0,
            "predict_with_generate": False,
            **settings,
        }
    )
    job = {
        "base_model": model,
        "run_dir": str(tmp_path / name),
        "device": "cpu",
        "run_id": f"test-{name}",
        "train_manifests": [str(manifest)],
        "validation_manifests": [],
        "log_path": str(tmp_path / f"{name}.log"),
        "settings": s.__dict__,
    }
    write_json(tmp_path / f"{name}.json", job)
    return tmp_path / f"{name}.json"


def launch(job: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "whisper_pipeline.training.cli", str(job)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def loss_at(log: Path, step: int) -> float:
    return [e["loss"] for e in read_jsonl(log) if e.get("step") == step and "loss" in e][-1]


def whole_state(checkpoint: Path) -> bool:
    """The checkpoint's trainer_state.json exists and is complete JSON (the trainer writes it last, in place)."""
    try:
        return "global_step" in json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False


def step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1])


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, tiny_model_dir, manifest):
    whole = finish(launch(job_file(tmp_path, "whole", tiny_model_dir, manifest)))
    assert whole["global_step"] == STEPS and whole["resumed_from"] is None

    job = job_file(tmp_path, "crash", tiny_model_dir, manifest)
    proc = launch(job)
    ckpt = tmp_path / "crash" / "checkpoints" / "checkpoint-10"
    deadline = time.time() + 300
    while not whole_state(ckpt):
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "crash" / "model.safetensors").exists(), "killed before the end"

    # saves cut short after the newest complete checkpoint: one before trainer_state.json was written,
    # one while it was being written (torn); resuming must skip both
    checkpoints = tmp_path / "crash" / "checkpoints"
    newest = max((c for c in checkpoints.glob("checkpoint-*") if whole_state(c)), key=step_of)
    no_state, torn = (
        checkpoints / f"checkpoint-{step_of(newest) + 5}",
        checkpoints / f"checkpoint-{step_of(newest) + 10}",
    )
    for cut in (no_state, torn):
        shutil.rmtree(cut, ignore_errors=True)
        shutil.copytree(newest, cut)
    (no_state / "trainer_state.json").unlink()
    state = (torn / "trainer_state.json").read_bytes()
    (torn / "trainer_state.json").write_bytes(state[: len(state) // 2])

    resumed = finish(launch(job))
    assert resumed["resumed_from"] == str(newest) and step_of(newest) >= 10
    assert resumed["global_step"] == STEPS
    a, b = (
        loss_at(tmp_path / "whole.log", STEPS),
        loss_at(tmp_path / "crash.log", STEPS),
    )
    assert abs(a - b) <= LOSS_TOLERANCE * abs(a), (a, b)

    kept = sorted(checkpoints.glob("checkpoint-*"))
    assert 1 <= len(kept) <= 2 and all(whole_state(c) for c in kept), "a bounded number of whole checkpoints is kept"
    run = tmp_path / "crash"
    manifest_json = json.loads((run / "run_manifest.json").read_text())
    assert manifest_json["data_manifests"] == {str(manifest): hashlib.sha256(manifest.read_bytes()).hexdigest()}
    assert manifest_json["hyperparameters"]["max_steps"] == STEPS and manifest_json["hardware"]["device"] == "cpu"
    assert manifest_json["code_version"]["package"] and manifest_json["dagster_run_id"] == "test-crash"
    # the languages the run says it learnt are the ones in its data (a one-language run decodes that language)
    (language,) = {r["language"] for r in read_jsonl(manifest)}
    assert manifest_json["languages"] == [language]
    card = (run / "README.md").read_text()
    assert card.startswith(f"---\nlanguage:\n- {language}\ntags:") and "crash" in card
    assert list((run / "tensorboard").rglob("events.out.tfevents.*")), "TensorBoard event files"
    gen = json.loads((run / "generation_config.json").read_text())
    assert gen["task"] == "transcribe" and gen["language"] == language
    log = read_jsonl(tmp_path / "crash.log")
    assert {"run_id", "step", "epoch", "loss", "learning_rate", "grad_norm"} <= set(log[0])
    assert any("samples_per_second" in e for e in log)


def detected_by_base(model_dir: str, audio: str) -> str:
    """The language the untrained model hears in ``audio`` (transformers' own language detection)."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from whisper_pipeline.audio.ffmpeg import decode

    processor = WhisperProcessor.from_pretrained(model_dir)
    features = processor.feature_extractor(decode(audio), sampling_rate=16000, return_tensors="pt").input_features
    token = WhisperForConditionalGeneration.from_pretrained(model_dir).detect_language(features)[0].item()
    return processor.tokenizer.convert_ids_to_tokens(token).strip("<|>")


def test_ct2_export_loads_in_faster_whisper(tmp_path, tiny_model_dir, manifest):
    """The int8 CTranslate2 copy is the fine-tuned model: asked for no language, faster-whisper hears the
    language the run was trained on, which the random base model does not."""
    from faster_whisper import WhisperModel

    job = json.loads(job_file(tmp_path, "ct2", tiny_model_dir, manifest, ct2_export=True).read_text())
    job["settings"]["max_steps"] = 10
    write_json(tmp_path / "ct2.json", job)
    finish(launch(tmp_path / "ct2.json"))
    audio = read_jsonl(manifest)[0]["audio"]
    (trained,) = {r["language"] for r in read_jsonl(manifest)}
    assert detected_by_base(tiny_model_dir, audio) != trained, "the base model alone would not pass this test"
    model = WhisperModel(str(tmp_path / "ct2" / "ct2"), device="cpu", compute_type="int8")
    segments, info = model.transcribe(audio, beam_size=1)  # language detected, not given
    list(segments)
    assert info.language == trained

    # what the run wrote is what the disk check before training asked room for
    from transformers import WhisperForConditionalGeneration

    params = WhisperForConditionalGeneration.from_pretrained(tiny_model_dir).num_parameters()
    run = tmp_path / "ct2"
    for checkpoint in (run / "checkpoints").glob("checkpoint-*"):
        tensors = sum((checkpoint / f).stat().st_size for f in ("model.safetensors", "optimizer.pt"))
        assert abs(tensors - checkpoint_bytes(params)) <= 0.05 * checkpoint_bytes(params), (tensors, params)
    assert (run / "model.safetensors").stat().st_size >= params * WEIGHT_BYTES
    assert bytes_under(run) <= run_bytes(params, checkpoints_held(2, 2), ct2_export=True)  # 10 steps, every 5


def test_a_run_the_disk_cannot_hold_fails_before_its_first_step(tmp_path, tiny_model_dir, manifest):
    """Asked to keep more checkpoints than the disk holds (every one of a billion steps' saves: no limit), training
    stops at once and says why, instead of dying at a checkpoint save hours in."""
    job = job_file(tmp_path, "too_big", tiny_model_dir, manifest, save_total_limit=0, max_steps=10**9, eval_steps=1)
    proc = launch(job)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode != 0
    run = tmp_path / "too_big"
    assert "NotEnoughDisk" in out and f"{run}: this run needs about" in out and "save_total_limit" in out, out[-2000:]
    assert not (run / "checkpoints").exists(), "no step was taken"
