"""checkpoint: everything before training itself, which runs in its own ``accelerate launch`` process
(``training/cli.py``): find the training data, save the shared processor, apply a sweep's best
parameters, and write the job file that process reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.io import write_json
from whisper_pipeline.stages import DEFAULT_LOG, Log, StageError, StageResult
from whisper_pipeline.stages.review import prepare_pseudo_labels
from whisper_pipeline.training.cli import accelerate_command, training_job
from whisper_pipeline.training.package import save_processor
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.training.sweep import apply_best
from whisper_pipeline.workspace import Workspace


@dataclass(kw_only=True)
class TrainingLaunch(StageResult):
    """A prepared training run: the job file and the command that trains it."""

    run_name: str
    job_path: Path
    command: list[str]
    job: dict = field(default_factory=dict)


def prepare_training(
    ws: Workspace,
    settings: TrainSettings,
    base_model: Callable[[], str],
    device: str,
    run_id: str = "",
    log: Log = DEFAULT_LOG,
) -> TrainingLaunch:
    """The training manifests of ``settings.languages`` (``ws.ready_manifest``: a language without them is
    left out with a warning; none at all is a ``StageError``), the base model (``base_model()``, called only
    when there is data) and its processor (``ws.processor_dir``), the best parameters of
    ``settings.sweep_study`` (``ws.sweep_best``) → the job file ``ws.training_job(run_name)``."""
    train = [ws.ready_manifest(l, "train") for l in settings.languages]
    validation = [ws.ready_manifest(l, "validation") for l in settings.languages]
    missing = [str(p) for p in train if not p.is_file()]
    for path in missing:
        log.warning(f"{path} missing: materialize the data assets for that language first")
    if len(missing) == len(train):
        raise StageError("No training data: materialize the data assets for at least one language first")
    pseudo_labels = {"enabled": False}
    if settings.pseudo_labels:
        found = prepare_pseudo_labels(ws, settings.languages, settings.pseudo_label_min_score, log)
        train, pseudo_labels = train + found.manifests, found.summary
    base = base_model()
    save_processor(base, ws.processor_dir)
    run_dir = ws.run_dir(settings.run_name)
    best = None
    if settings.sweep_study:
        best_path = ws.sweep_best(settings.sweep_study)
        if not best_path.is_file():
            raise StageError(
                f"sweep_study {settings.sweep_study!r}: {best_path} missing; materialize "
                f"hyperparameter_sweep with that study first"
            )
        settings, best = apply_best(settings, best_path)
        log.info(f"using the best parameters of sweep {settings.sweep_study}: {best}")
    job = training_job(
        base_model=base,
        run_dir=run_dir,
        device=device,
        run_id=run_id,
        train_manifests=train,
        validation_manifests=validation,
        log_path=ws.training_log(settings.run_name),
        settings=settings,
    )
    job_path = ws.training_job(settings.run_name)
    write_json(job_path, job)
    command = accelerate_command(job_path, settings.num_processes, device)
    log.info(f"fine-tuning {base} → {run_dir}: {' '.join(command)}")
    return TrainingLaunch(
        run_name=settings.run_name,
        job_path=job_path,
        command=command,
        job=job,
        metadata={
            "run": settings.run_name,
            "base_model": base,
            "device": device,
            "run_dir": run_dir,
            "job": job_path,
            "train_manifests": [p for p in job["train_manifests"] if Path(p).is_file()],
            "sweep_best_params": best or {},
            "pseudo_labels": pseudo_labels,
        },
    )
