"""Hyperparameter search with Optuna: short training runs, pruned early when they lag, resumable.

The study lives in a SQLite database in the workspace, so a sweep that was stopped (or crashed)
continues where it was when run again with the same name: finished trials are never repeated, and a
trial cut short by a crash is run again with its parameters.
Each trial is a short ``train_whisper`` run whose validation loss (or WER) is reported at every
evaluation, so the median pruner can stop a trial that is doing worse than the others were at the
same step. The results table and the best parameters are written next to the manifests; the
``checkpoint`` asset's ``sweep_study`` setting takes the best parameters for the next real run.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.io import atomic_path, write_json
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.workspace import LANGUAGES

SEARCHED = ("learning_rate", "batch_size", "weight_decay", "warmup_ratio", "gradient_accumulation_steps")


@dataclass
class SearchSpace:
    learning_rate: tuple[float, float] = (1e-6, 1e-4)  # log-uniform
    batch_size: list[int] = field(default_factory=lambda: [4, 8, 16])
    weight_decay: tuple[float, float] = (0.0, 0.1)
    warmup_ratio: tuple[float, float] = (0.0, 0.2)
    gradient_accumulation_steps: list[int] = field(default_factory=lambda: [1, 2])

    def suggest(self, trial) -> dict:
        return {
            "learning_rate": trial.suggest_float("learning_rate", *self.learning_rate, log=True),
            "batch_size": trial.suggest_categorical("batch_size", self.batch_size),
            "weight_decay": trial.suggest_float("weight_decay", *self.weight_decay),
            "warmup_ratio": trial.suggest_float("warmup_ratio", *self.warmup_ratio),
            "gradient_accumulation_steps": trial.suggest_categorical(
                "gradient_accumulation_steps", self.gradient_accumulation_steps
            ),
        }


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class SweepSettings:
    """A sweep as the ``hyperparameter_sweep`` asset runs it: the study, its trials, the search space."""

    study: str = field(default="sweep1", metadata=_help("Study name; the same name resumes the sweep"))
    n_trials: int = field(default=8, metadata=_help("Trials the study should hold when done (finished ones count)"))
    trial_max_steps: int = field(default=30, metadata=_help("Optimizer steps per trial"))
    eval_steps: int = field(default=10, metadata=_help("Evaluate (and report for pruning) every N steps"))
    score_with_wer: bool = field(
        default=False, metadata=_help("Score trials by validation WER (decoding) instead of loss")
    )
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    learning_rate_min: float = 1e-6
    learning_rate_max: float = 1e-4
    batch_sizes: list[int] = field(default_factory=lambda: [4, 8, 16])
    weight_decay_max: float = 0.1
    warmup_ratio_max: float = 0.2
    gradient_accumulation: list[int] = field(default_factory=lambda: [1, 2])

    def search_space(self) -> SearchSpace:
        return SearchSpace(
            learning_rate=(self.learning_rate_min, self.learning_rate_max),
            batch_size=list(self.batch_sizes),
            weight_decay=(0.0, self.weight_decay_max),
            warmup_ratio=(0.0, self.warmup_ratio_max),
            gradient_accumulation_steps=list(self.gradient_accumulation),
        )

    def trial_settings(self) -> TrainSettings:
        """The training settings every trial starts from (the searched ones are then drawn)."""
        return TrainSettings(
            max_steps=self.trial_max_steps,
            eval_steps=self.eval_steps,
            predict_with_generate=self.score_with_wer,
            save_total_limit=1,
            logging_steps=self.eval_steps,
        )


def storage_url(db: Path) -> str:
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def run_sweep(
    *,
    study_name: str,
    db: Path,
    base_model: str,
    train_rows: list[ManifestLine],
    validation_rows: list[ManifestLine],
    trials_dir: Path,
    n_trials: int,
    trial_settings: TrainSettings,
    space: SearchSpace | None = None,
    device: str | None = None,
    on_trial: Callable[[dict], None] | None = None,
    keep_trial_models: bool = False,
) -> dict:
    """Run trials until the study holds ``n_trials`` finished (complete or pruned) ones; returns the summary."""
    import optuna
    from transformers import TrainerCallback

    from whisper_pipeline.training.train import train_whisper

    if not validation_rows:
        raise ValueError("a sweep needs a validation split to score trials on")
    space = space or SearchSpace()
    metric = "eval_wer" if trial_settings.predict_with_generate else "eval_loss"
    study = optuna.create_study(
        study_name=study_name,
        storage=storage_url(db),
        direction="minimize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    # Seeded past the trials the study already holds: the same seed again would draw the very parameters its
    # first trials drew, so a resumed sweep would repeat finished trials. Still reproducible: it depends
    # only on the seed and the study's history.
    study.sampler = optuna.samplers.TPESampler(seed=trial_settings.seed + len(study.trials))
    for stale in [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]:
        # left RUNNING by a sweep that crashed (sweeps are GPU work, one at a time): marked failed, its
        # half-trained model removed, and its parameters tried again first
        study.tell(stale.number, state=optuna.trial.TrialState.FAIL)
        shutil.rmtree(trials_dir / f"trial-{stale.number:03d}", ignore_errors=True)
        study.enqueue_trial(stale.params, user_attrs={"retry_of": stale.number})
    finished = [
        t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]

    def objective(trial) -> float:
        params = space.suggest(trial)
        run_dir = trials_dir / f"trial-{trial.number:03d}"
        shutil.rmtree(run_dir, ignore_errors=True)

        class ReportToOptuna(TrainerCallback):
            def on_evaluate(self, args, state, control, metrics=None, **kwargs):
                value = (metrics or {}).get(metric)
                if value is None:
                    return
                trial.report(value, state.global_step)
                if trial.should_prune():
                    trial.set_user_attr("pruned_at_step", state.global_step)
                    control.should_training_stop = True

        settings = replace(trial_settings, run_name=f"{study_name}-trial-{trial.number}", **params)
        summary = train_whisper(
            base_model=base_model,
            train_rows=train_rows,
            validation_rows=validation_rows,
            run_dir=run_dir,
            settings=settings,
            device=device,
            extra_callbacks=[ReportToOptuna()],
        )
        if not keep_trial_models:
            shutil.rmtree(run_dir, ignore_errors=True)
        value = summary["validation_wer"] if metric == "eval_wer" else summary["validation_loss"]
        trial.set_user_attr("steps", summary["global_step"])
        trial.set_user_attr("wall_time_s", summary["wall_time_s"])
        if on_trial:
            on_trial({"trial": trial.number, **params, "value": value, "steps": summary["global_step"]})
        if trial.user_attrs.get("pruned_at_step") is not None:
            raise optuna.TrialPruned()
        return float(value)

    remaining = max(0, n_trials - len(finished))
    if remaining:
        study.optimize(objective, n_trials=remaining, catch=())
    return summarize(study, metric)


def summarize(study, metric: str) -> dict:
    import optuna

    rows = []
    for t in study.trials:
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                "value": t.value,
                **{k: t.params.get(k) for k in SEARCHED},
                "steps": t.user_attrs.get("steps"),
                "pruned_at_step": t.user_attrs.get("pruned_at_step"),
                "wall_time_s": t.user_attrs.get("wall_time_s"),
                "retry_of": t.user_attrs.get("retry_of"),
            }
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value) if complete else None
    return {
        "study": study.study_name,
        "metric": metric,
        "trials": rows,
        "best_params": best.params if best else {},
        "best_value": best.value if best else None,
        "best_trial": best.number if best else None,
    }


def write_results(summary: dict, csv_path: Path, best_path: Path) -> None:
    """``sweep_<study>.csv`` (one row per trial) and ``sweep_<study>_best.json``."""
    columns = ["trial", "state", "value", *SEARCHED, "steps", "pruned_at_step", "wall_time_s", "retry_of"]
    with atomic_path(csv_path, suffix=".csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(summary["trials"])
    write_json(best_path, {k: summary[k] for k in ("study", "metric", "best_params", "best_value", "best_trial")})


def apply_best(settings: TrainSettings, best_path: Path) -> tuple[TrainSettings, dict]:
    """The settings with the sweep's best parameters in place (and which ones changed)."""
    best = json.loads(best_path.read_text())["best_params"]
    if not best:
        raise ValueError(f"{best_path}: the sweep has no completed trial yet")
    return replace(settings, **{k: v for k, v in best.items() if k in SEARCHED}), best
