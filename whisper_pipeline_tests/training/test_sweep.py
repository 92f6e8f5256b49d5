"""A real Optuna sweep (tiny model, real speech): trials run, bad ones are pruned, the study resumes,
and the best parameters feed the next training run."""

import csv
import json

from whisper_pipeline.io import read_jsonl
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.training.sweep import SearchSpace, apply_best, run_sweep, write_results


def test_sweep_runs_prunes_resumes_and_feeds_training(tmp_path, tiny_model_dir, manifest):
    rows = read_jsonl(manifest)
    train, validation = rows[:4], rows[4:]
    space = SearchSpace(learning_rate=(1e-5, 1e-2), batch_size=[1, 2], gradient_accumulation_steps=[1])
    settings = TrainSettings(max_steps=6, eval_steps=2, predict_with_generate=False, save_total_limit=1, logging_steps=2)
    db = tmp_path / "sweeps.db"
    first = run_sweep("s1", db, tiny_model_dir, train, validation, tmp_path / "trials", 5, settings, space, "cpu")
    assert len(first["trials"]) == 5
    states = {t["state"] for t in first["trials"]}
    assert states <= {"COMPLETE", "PRUNED"} and "COMPLETE" in states
    assert first["best_value"] == min(t["value"] for t in first["trials"] if t["state"] == "COMPLETE")
    assert not list((tmp_path / "trials").glob("trial-*")), "trial models are not kept by default"

    again = run_sweep("s1", db, tiny_model_dir, train, validation, tmp_path / "trials", 6, settings, space, "cpu")
    assert len(again["trials"]) == 6, "resumed: only the missing trial ran"
    assert again["trials"][:5] == first["trials"], "finished trials are kept as they were"

    csv_path, best_path = tmp_path / "sweep_s1.csv", tmp_path / "sweep_s1_best.json"
    write_results(again, csv_path, best_path)
    with open(csv_path) as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6 and {"trial", "state", "value", "learning_rate", "batch_size"} <= set(table[0])
    tuned, best = apply_best(TrainSettings(), best_path)
    assert tuned.learning_rate == best["learning_rate"] == json.loads(best_path.read_text())["best_params"]["learning_rate"]
    assert tuned.batch_size in (1, 2) and tuned.epochs == TrainSettings().epochs
