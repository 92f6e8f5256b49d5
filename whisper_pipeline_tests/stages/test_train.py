"""The ``checkpoint`` stage's preparation without Dagster: which manifests a run trains on, the shared
processor, a sweep's best parameters, and the job file the ``accelerate launch`` process reads."""

import json
from dataclasses import asdict

import pytest

from whisper_pipeline.io import write_json, write_jsonl
from whisper_pipeline.stages import StageError
from whisper_pipeline.stages.train import prepare_training
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline_tests.stages.test_preprocess import ListLog

LINE = {"id": "u1", "audio": "u1.wav", "transcript": "Dobar dan.", "duration": 1.0, "language": "hr"}


def never_resolve():
    raise AssertionError("the base model must not be resolved without training data")


@pytest.fixture
def data(workspace):
    """hr has training manifests, bs only processed ones (before alignment), sr nothing."""
    for split in ("train", "validation"):
        write_jsonl(workspace.training_manifest("hr", split), [LINE])
        write_jsonl(workspace.processed_manifest("bs", split), [{**LINE, "language": "bs"}])
    return workspace


def test_the_job_file_names_the_ready_manifests_and_every_setting(data, tiny_model_dir):
    ws, log = data, ListLog()
    settings = TrainSettings(run_name="r1", max_steps=3, num_processes=1)
    launch = prepare_training(ws, settings, lambda: tiny_model_dir, "cpu", run_id="dagster-run", log=log)

    assert launch.job_path == ws.training_job("r1") and launch.run_name == "r1"
    job = json.loads(ws.training_job("r1").read_text())
    assert job == launch.job
    assert job == {
        "base_model": tiny_model_dir,
        "run_dir": str(ws.run_dir("r1")),
        "device": "cpu",
        "run_id": "dagster-run",
        "train_manifests": [
            str(ws.processed_manifest("bs", "train")),
            str(ws.training_manifest("hr", "train")),
            str(ws.processed_manifest("sr", "train")),  # neither exists: ready_manifest's fallback
        ],
        "validation_manifests": [
            str(ws.processed_manifest("bs", "validation")),
            str(ws.training_manifest("hr", "validation")),
            str(ws.processed_manifest("sr", "validation")),
        ],
        "log_path": str(ws.training_log("r1")),
        "settings": asdict(settings),
    }
    assert list(job) == ["base_model", "run_dir", "device", "run_id", "train_manifests", "validation_manifests"] + [
        "log_path",
        "settings",
    ], "the file's key order is kept"
    assert log.warnings == [
        f"{ws.processed_manifest('sr', 'train')} missing: materialize the data assets for that language first"
    ]
    assert json.loads((ws.processor_dir / "tokenizer.json").read_text())["model"]["vocab"], "the processor is saved"
    cmd = launch.command
    assert cmd[1:3] == ["launch", "--num_machines"] and "--cpu" in cmd
    assert cmd[-3:] == ["-m", "whisper_pipeline.training.cli", str(ws.training_job("r1"))]
    assert log.infos == [f"fine-tuning {tiny_model_dir} → {ws.run_dir('r1')}: {' '.join(cmd)}"]
    assert launch.metadata["train_manifests"] == job["train_manifests"][:2]
    assert launch.metadata["run_dir"] == ws.run_dir("r1") and launch.metadata["sweep_best_params"] == {}


def test_several_gpus_run_one_process_each(data, tiny_model_dir):
    launch = prepare_training(data, TrainSettings(run_name="multi", num_processes=4), lambda: tiny_model_dir, "cuda")
    cmd = launch.command
    assert "--multi_gpu" in cmd and cmd[cmd.index("--num_processes") + 1] == "4" and "--cpu" not in cmd
    assert json.loads(data.training_job("multi").read_text())["device"] == "cuda"


def test_no_training_data_for_any_language_is_an_error(workspace):
    log = ListLog()
    with pytest.raises(StageError, match="^No training data: materialize the data assets for at least one language"):
        prepare_training(workspace, TrainSettings(languages=["hr", "sr"]), never_resolve, "cpu", log=log)
    assert len(log.warnings) == 2 and not workspace.training_job("run1").exists()
    assert not workspace.processor_dir.exists()


def test_the_best_parameters_of_a_sweep_are_applied(data, tiny_model_dir):
    best = {"learning_rate": 0.0123, "batch_size": 2, "gradient_accumulation_steps": 2, "not_searched": 1}
    write_json(data.sweep_best("s1"), {"study": "s1", "metric": "eval_loss", "best_params": best})
    log = ListLog()
    settings = TrainSettings(run_name="tuned", sweep_study="s1", epochs=2.0)
    launch = prepare_training(data, settings, lambda: tiny_model_dir, "cpu", log=log)
    applied = json.loads(data.training_job("tuned").read_text())["settings"]
    assert (applied["learning_rate"], applied["batch_size"], applied["gradient_accumulation_steps"]) == (0.0123, 2, 2)
    assert (
        applied["epochs"] == 2.0 and applied["weight_decay"] == settings.weight_decay and "not_searched" not in applied
    )
    assert log.infos[0] == f"using the best parameters of sweep s1: {best}"
    assert launch.metadata["sweep_best_params"] == best


def test_a_sweep_that_has_not_run_is_an_error(data, tiny_model_dir):
    with pytest.raises(StageError, match=r"^sweep_study 'nope': .*sweep_nope_best\.json missing; materialize"):
        prepare_training(data, TrainSettings(sweep_study="nope"), lambda: tiny_model_dir, "cpu")
    assert not data.training_job("run1").exists()
