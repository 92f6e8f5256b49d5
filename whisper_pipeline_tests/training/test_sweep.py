"""A real Optuna sweep (tiny model, real speech): trials run, a lagging one is pruned, the study resumes,
a trial killed mid-run is retried with its parameters, and the best parameters feed the next training run."""

import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import optuna

from whisper_pipeline.data.manifests import line_dicts, read_lines
from whisper_pipeline.io import write_json
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.training.sweep import (
    SEARCHED,
    SearchSpace,
    apply_best,
    run_sweep,
    storage_url,
    write_results,
)

# Learning rates over three decades: TPE's first trials are seeded random draws (the same on every machine),
# and after two steps a tiny model's loss orders by learning rate, so a draw below the completed ones lags
# them and the median pruner (two start-up trials) must stop it.
SPACE = SearchSpace(learning_rate=(1e-5, 1e-2), batch_size=[1, 2], gradient_accumulation_steps=[1])
SETTINGS = TrainSettings(
    max_steps=6,
    eval_steps=2,
    predict_with_generate=False,
    save_total_limit=1,
    logging_steps=2,
)


def params(trial: dict) -> tuple:
    return tuple(trial[k] for k in SEARCHED)


def test_sweep_runs_prunes_resumes_and_feeds_training(tmp_path, tiny_model_dir, manifest):
    rows = read_lines(manifest)
    train, validation = rows[:4], rows[4:]
    db = tmp_path / "sweeps.db"
    first = run_sweep(
        study_name="s1",
        db=db,
        base_model=tiny_model_dir,
        train_rows=train,
        validation_rows=validation,
        trials_dir=tmp_path / "trials",
        n_trials=5,
        trial_settings=SETTINGS,
        space=SPACE,
        device="cpu",
    )
    assert len(first["trials"]) == 5
    states = [t["state"] for t in first["trials"]]
    assert set(states) <= {"COMPLETE", "PRUNED"} and "COMPLETE" in states
    assert "PRUNED" in states, "a trial that lags the others is stopped early"
    assert first["best_value"] == min(t["value"] for t in first["trials"] if t["state"] == "COMPLETE")
    assert not list((tmp_path / "trials").glob("trial-*")), "trial models are not kept by default"

    # every pruned trial stopped before the end, at a report worse than the median of the earlier completed
    # trials at that step (the rule of Optuna's median pruner, which looks at completed trials only)
    study = optuna.load_study(study_name="s1", storage=storage_url(db))
    for t in study.trials:
        if t.state != optuna.trial.TrialState.PRUNED:
            continue
        step = t.user_attrs["pruned_at_step"]
        assert step < SETTINGS.max_steps and t.user_attrs["steps"] < SETTINGS.max_steps
        earlier = [
            e.intermediate_values[step]
            for e in study.trials[: t.number]
            if e.state == optuna.trial.TrialState.COMPLETE and step in e.intermediate_values
        ]
        assert len(earlier) >= 2 and t.intermediate_values[step] > statistics.median(earlier), t.number

    again = run_sweep(
        study_name="s1",
        db=db,
        base_model=tiny_model_dir,
        train_rows=train,
        validation_rows=validation,
        trials_dir=tmp_path / "trials",
        n_trials=6,
        trial_settings=SETTINGS,
        space=SPACE,
        device="cpu",
    )
    assert len(again["trials"]) == 6, "resumed: only the missing trial ran"
    assert again["trials"][:5] == first["trials"], "finished trials are kept as they were"
    assert params(again["trials"][5]) not in [params(t) for t in first["trials"]], "the new trial is not a repeat"

    csv_path, best_path = tmp_path / "sweep_s1.csv", tmp_path / "sweep_s1_best.json"
    write_results(again, csv_path, best_path)
    with open(csv_path) as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6 and {
        "trial",
        "state",
        "value",
        "learning_rate",
        "batch_size",
    } <= set(table[0])
    assert [r["state"] for r in table] == [t["state"] for t in again["trials"]]
    tuned, best = apply_best(TrainSettings(), best_path)
    assert (
        tuned.learning_rate
        == best["learning_rate"]
        == json.loads(best_path.read_text())["best_params"]["learning_rate"]
    )
    assert tuned.batch_size in (1, 2) and tuned.epochs == TrainSettings().epochs


SWEEP_PROCESS = """
import json, sys
from pathlib import Path
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.training.sweep import SearchSpace, run_sweep
a = json.loads(Path(sys.argv[1]).read_text())
lines = {s: [ManifestLine.from_dict(d) for d in a[s]] for s in ("train", "validation")}
run_sweep(study_name=a["study"], db=Path(a["db"]), base_model=a["model"], train_rows=lines["train"],
          validation_rows=lines["validation"], trials_dir=Path(a["trials"]), n_trials=a["n_trials"],
          trial_settings=TrainSettings(**a["settings"]), space=SearchSpace(**a["space"]), device="cpu")
"""


def test_a_crashed_trial_is_retried_with_its_parameters(tmp_path, tiny_model_dir, manifest):
    """The sweep process is killed (SIGKILL) in the middle of trial 1; the next run of the study marks
    that trial failed, runs its parameters again, and ends with as many finished trials as asked for."""
    rows = read_lines(manifest)
    db, trials = tmp_path / "sweeps.db", tmp_path / "trials"
    args = {
        "study": "crash",
        "db": str(db),
        "model": tiny_model_dir,
        "train": line_dicts(rows[:4]),
        "validation": line_dicts(rows[4:]),
        "trials": str(trials),
        "n_trials": 3,
        "settings": SETTINGS.__dict__,
        "space": SPACE.__dict__,
    }
    write_json(tmp_path / "args.json", args)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    log = tmp_path / "sweep.log"
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-c", SWEEP_PROCESS, str(tmp_path / "args.json")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    saved = trials / "trial-001" / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    deadline = time.time() + 600
    while not saved.is_file():  # trial 1 has trained two steps and saved: it is mid-run
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    before = optuna.load_study(study_name="crash", storage=storage_url(db)).trials
    assert [t.state for t in before] == [
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.RUNNING,
    ]
    summary = run_sweep(
        study_name="crash",
        db=db,
        base_model=tiny_model_dir,
        train_rows=rows[:4],
        validation_rows=rows[4:],
        trials_dir=trials,
        n_trials=3,
        trial_settings=SETTINGS,
        space=SPACE,
        device="cpu",
    )
    by_number = {t["trial"]: t for t in summary["trials"]}
    assert by_number[0]["value"] == before[0].value, "the finished trial is kept"
    assert by_number[1]["state"] == "FAIL"
    (retry,) = [t for t in summary["trials"] if t["retry_of"] == 1]
    assert retry["state"] in ("COMPLETE", "PRUNED") and params(retry) == tuple(before[1].params[k] for k in SEARCHED)
    done = [params(t) for t in summary["trials"] if t["state"] in ("COMPLETE", "PRUNED")]
    assert len(done) == len(set(done)) == 3, "three finished trials, none a repeat of another"
    assert not list(trials.glob("trial-*")), "the killed trial's half-trained model is cleaned up too"
