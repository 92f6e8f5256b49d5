"""hyperparameter_sweep: an Optuna study of short training runs on the training manifests
(``training/sweep.py``), resumable by name; its results table and best parameters go to the workspace,
where ``checkpoint``'s ``sweep_study`` finds them."""

from __future__ import annotations

from collections.abc import Callable

from whisper_pipeline.data.manifests import read_lines
from whisper_pipeline.stages import DEFAULT_LOG, Log, StageError, StageResult, markdown_table
from whisper_pipeline.training.sweep import SEARCHED, SweepSettings, run_sweep, write_results
from whisper_pipeline.workspace import Workspace


def sweep_stage(
    ws: Workspace,
    settings: SweepSettings,
    base_model: Callable[[], str],
    device: str,
    log: Log = DEFAULT_LOG,
) -> StageResult:
    """Run the study ``settings.study`` (``ws.sweeps_db``, trial models under ``ws.sweep_dir``) on the train
    and validation lines of ``settings.languages`` (``ws.ready_manifest``) → ``ws.sweep_results`` and
    ``ws.sweep_best``. ``base_model()`` is called only when there is data to sweep on."""
    rows = {
        s: [r for l in settings.languages if (p := ws.ready_manifest(l, s)).is_file() for r in read_lines(p)]
        for s in ("train", "validation")
    }
    if not rows["train"] or not rows["validation"]:
        raise StageError("A sweep needs train and validation manifests: materialize the data assets first")
    summary = run_sweep(
        study_name=settings.study,
        db=ws.sweeps_db,
        base_model=base_model(),
        train_rows=rows["train"],
        validation_rows=rows["validation"],
        trials_dir=ws.sweep_dir(settings.study),
        n_trials=settings.n_trials,
        trial_settings=settings.trial_settings(),
        space=settings.search_space(),
        device=device,
        on_trial=lambda t: log.info(f"trial {t['trial']}: {t}"),
    )
    csv_path, best_path = ws.sweep_results(settings.study), ws.sweep_best(settings.study)
    write_results(summary, csv_path, best_path)
    return StageResult(
        metadata={
            "study": settings.study,
            "trials": len(summary["trials"]),
            "pruned": sum(t["state"] == "PRUNED" for t in summary["trials"]),
            "metric": summary["metric"],
            "best_value": float(summary["best_value"] if summary["best_value"] is not None else -1),
            "best_params": summary["best_params"],
            "results": markdown_table(summary["trials"], ["trial", "state", "value", *SEARCHED]),
            "results_csv": csv_path,
            "best_params_file": best_path,
        }
    )
