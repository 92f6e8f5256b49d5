"""The ``hyperparameter_sweep`` stage without Dagster: its settings become the search space and the
trials' training settings by name, and a one-trial study with the tiny random Whisper writes its results
at the layout's paths."""

import csv
import dataclasses
import json

import pytest

from whisper_pipeline.io import write_jsonl
from whisper_pipeline.stages import Markdown, StageError
from whisper_pipeline.stages.sweep import sweep_stage
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.training.sweep import SEARCHED, SearchSpace, SweepSettings
from whisper_pipeline.workspace import LANGUAGES, Workspace
from whisper_pipeline_tests.conftest import espeak_16k
from whisper_pipeline_tests.stages.test_preprocess import ListLog

TEXTS = ["Dobar dan.", "Laku noć.", "Kiša pada.", "Hvala lijepa."]


def test_settings_keep_the_asset_config_defaults():
    s = SweepSettings()
    assert (s.study, s.n_trials, s.trial_max_steps, s.eval_steps, s.score_with_wer) == ("sweep1", 8, 30, 10, False)
    assert s.languages == list(LANGUAGES)
    assert s.search_space() == SearchSpace(), "the defaults span the library's default search space"
    help_ = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(SweepSettings)}
    assert help_["study"] == "Study name; the same name resumes the sweep"


def test_settings_become_the_search_space_and_the_trial_settings_by_name():
    s = SweepSettings(
        learning_rate_min=1e-5,
        learning_rate_max=1e-3,
        batch_sizes=[2, 4],
        weight_decay_max=0.05,
        warmup_ratio_max=0.3,
        gradient_accumulation=[1, 4],
        trial_max_steps=7,
        eval_steps=3,
        score_with_wer=True,
    )
    assert s.search_space() == SearchSpace(
        learning_rate=(1e-5, 1e-3),
        batch_size=[2, 4],
        weight_decay=(0.0, 0.05),
        warmup_ratio=(0.0, 0.3),
        gradient_accumulation_steps=[1, 4],
    )
    assert s.trial_settings() == TrainSettings(
        max_steps=7, eval_steps=3, predict_with_generate=True, save_total_limit=1, logging_steps=3
    )


def never_resolve():
    raise AssertionError("the base model must not be resolved without data")


def test_a_sweep_without_validation_data_is_an_error(workspace):
    line = {"id": "u1", "audio": "u1.wav", "transcript": "x", "duration": 1.0, "language": "hr", "speaker": "s"}
    write_jsonl(workspace.training_manifest("hr", "train"), [{**line, "split": "train"}])
    with pytest.raises(StageError, match="^A sweep needs train and validation manifests"):
        sweep_stage(workspace, SweepSettings(languages=["hr"]), never_resolve, "cpu")
    assert not workspace.sweep_best("sweep1").exists()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[dict]:
    d = tmp_path_factory.mktemp("sweep-clips")
    lines = []
    for i, text in enumerate(TEXTS):
        audio = espeak_16k(text, "hr", d / f"u{i}.wav")
        lines.append(
            {
                "id": f"u{i}",
                "audio": str(audio),
                "transcript": text,
                "duration": 1.0,
                "language": "hr",
                "speaker": "s",
                "split": "train" if i < 3 else "validation",
            }
        )
    return lines


def test_a_one_trial_study_writes_its_results_at_the_layout_paths(tmp_path, clips, tiny_model_dir):
    ws = Workspace.at(tmp_path / "ws").ensure()
    write_jsonl(ws.training_manifest("hr", "train"), clips[:3])
    write_jsonl(ws.processed_manifest("hr", "validation"), clips[3:])  # before alignment: the processed one
    settings = SweepSettings(
        study="st", n_trials=1, trial_max_steps=1, eval_steps=1, batch_sizes=[2], gradient_accumulation=[1]
    )
    log = ListLog()
    meta = sweep_stage(ws, settings, lambda: tiny_model_dir, "cpu", log=log).metadata

    assert ws.sweeps_db.is_file()
    with open(ws.sweep_results("st"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["state"] == "COMPLETE" and rows[0]["batch_size"] == "2"
    best = json.loads(ws.sweep_best("st").read_text())
    assert best["study"] == "st" and best["metric"] == "eval_loss" and set(best["best_params"]) == set(SEARCHED)
    assert not list(ws.sweep_dir("st").glob("trial-*")), "trial models are not kept"
    assert meta["study"] == "st" and meta["trials"] == 1 and meta["pruned"] == 0 and meta["metric"] == "eval_loss"
    assert meta["best_value"] == best["best_value"] and meta["best_params"] == best["best_params"]
    assert isinstance(meta["results"], Markdown) and "| trial | state | value | learning_rate |" in meta["results"]
    assert meta["results_csv"] == ws.sweep_results("st") and meta["best_params_file"] == ws.sweep_best("st")
    assert len(log.infos) == 1 and log.infos[0].startswith("trial 0: {'trial': 0, 'learning_rate': ")
