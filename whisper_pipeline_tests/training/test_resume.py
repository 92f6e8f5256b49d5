"""Training in its own process: killed mid-run (SIGKILL, a real crash) and resumed, it ends where an
uninterrupted run ends. Also the package a run leaves: manifest, model card, processor, CT2 copy."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from whisper_pipeline.io import read_jsonl, write_json
from whisper_pipeline.training.settings import TrainSettings

STEPS = 30
LOSS_TOLERANCE = 1e-3  # relative difference of the loss logged at the last step


def job_file(tmp_path: Path, name: str, model: str, manifest: Path, **settings) -> Path:
    s = TrainSettings(run_name=name, max_steps=STEPS, batch_size=2, learning_rate=1e-3, logging_steps=1,
                      eval_steps=5, save_total_limit=2, warmup_ratio=0.0, predict_with_generate=False, **settings)
    job = {"base_model": model, "run_dir": str(tmp_path / name), "device": "cpu", "run_id": f"test-{name}",
           "train_manifests": [str(manifest)], "validation_manifests": [], "log_path": str(tmp_path / f"{name}.log"),
           "settings": s.__dict__}
    write_json(tmp_path / f"{name}.json", job)
    return tmp_path / f"{name}.json"


def launch(job: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "whisper_pipeline.training.cli", str(job)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def loss_at(log: Path, step: int) -> float:
    return [e["loss"] for e in read_jsonl(log) if e.get("step") == step and "loss" in e][-1]


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, tiny_model_dir, manifest):
    whole = finish(launch(job_file(tmp_path, "whole", tiny_model_dir, manifest)))
    assert whole["global_step"] == STEPS and whole["resumed_from"] is None

    job = job_file(tmp_path, "crash", tiny_model_dir, manifest)
    proc = launch(job)
    ckpt = tmp_path / "crash" / "checkpoints" / "checkpoint-10"
    deadline = time.time() + 300
    while not (ckpt / "trainer_state.json").is_file():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "crash" / "model.safetensors").exists(), "killed before the end"

    resumed = finish(launch(job))
    assert resumed["resumed_from"] and int(resumed["resumed_from"].rsplit("-", 1)[1]) >= 10
    assert resumed["global_step"] == STEPS
    a, b = loss_at(tmp_path / "whole.log", STEPS), loss_at(tmp_path / "crash.log", STEPS)
    assert abs(a - b) <= LOSS_TOLERANCE * abs(a), (a, b)

    kept = sorted((tmp_path / "crash" / "checkpoints").glob("checkpoint-*"))
    assert 1 <= len(kept) <= 2, "a bounded number of checkpoints is kept"
    run = tmp_path / "crash"
    manifest_json = json.loads((run / "run_manifest.json").read_text())
    assert manifest_json["data_manifests"] == {str(manifest): manifest_json["data_manifests"][str(manifest)]}
    assert manifest_json["hyperparameters"]["max_steps"] == STEPS and manifest_json["hardware"]["device"] == "cpu"
    assert manifest_json["code_version"]["package"] and manifest_json["dagster_run_id"] == "test-crash"
    card = (run / "README.md").read_text()
    assert card.startswith("---\nlanguage:\n- hr") and "crash" in card
    assert list((run / "tensorboard").rglob("events.out.tfevents.*")), "TensorBoard event files"
    gen = json.loads((run / "generation_config.json").read_text())
    assert gen["task"] == "transcribe" and gen["language"] == "hr"
    log = read_jsonl(tmp_path / "crash.log")
    assert {"run_id", "step", "epoch", "loss", "learning_rate", "grad_norm"} <= set(log[0])
    assert any("samples_per_second" in e for e in log)


def test_ct2_export_loads_in_faster_whisper(tmp_path, tiny_model_dir, manifest):
    from faster_whisper import WhisperModel

    job = json.loads(job_file(tmp_path, "ct2", tiny_model_dir, manifest, ct2_export=True).read_text())
    job["settings"]["max_steps"] = 2
    write_json(tmp_path / "ct2.json", job)
    finish(launch(tmp_path / "ct2.json"))
    model = WhisperModel(str(tmp_path / "ct2" / "ct2"), device="cpu", compute_type="int8")
    segments, info = model.transcribe(read_jsonl(manifest)[0]["audio"], language="hr", beam_size=1)
    list(segments)
    assert info.language == "hr"
