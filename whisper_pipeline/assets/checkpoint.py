import dataclasses
import sys
import typing
from pathlib import Path

import dagster as dg
from pydantic import Field, create_model

from whisper_pipeline.assets.alignments import alignments
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.io import write_json, write_text
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.training.package import save_processor
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.training.sweep import apply_best


def _config_field(f: dataclasses.Field, annotation):
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    return annotation, Field(default=default, description=f.metadata.get("help", ""))


_HINTS = typing.get_type_hints(TrainSettings)
# The Dagster config of the training step, generated from TrainSettings: one list of settings.
TrainConfig = create_model(
    "TrainConfig",
    __base__=dg.Config,
    **{f.name: _config_field(f, _HINTS[f.name]) for f in dataclasses.fields(TrainSettings)},
)


def accelerate_command(job: Path, num_processes: int, device: str) -> list[str]:
    """``accelerate launch`` of the training module: one process per GPU, or one CPU process."""
    accelerate = Path(sys.executable).with_name("accelerate")
    cmd = [
        str(accelerate) if accelerate.exists() else "accelerate",
        "launch",
        "--num_machines",
        "1",
        "--num_processes",
        str(num_processes),
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    if device == "cpu":
        cmd.append("--cpu")
    elif num_processes > 1:
        cmd.append("--multi_gpu")
    return cmd + ["-m", "whisper_pipeline.training.cli", str(job)]


@dg.asset(
    group_name="training",
    deps=[processed_audio, alignments],
    kinds={"pytorch", "huggingface"},
    op_tags={"compute": "gpu"},
    pool="gpu",
)
def checkpoint(
    context: dg.AssetExecutionContext,
    config: TrainConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """One multilingual fine-tuned Whisper over all languages (each sample keeps its own language token),
    trained in a separate ``accelerate launch`` process through Dagster Pipes; re-materializing the same
    ``run_name`` resumes from its newest checkpoint."""
    ws = workspace.get()
    train = [ws.ready_manifest(l, "train") for l in config.languages]
    validation = [ws.ready_manifest(l, "validation") for l in config.languages]
    missing = [str(p) for p in train if not p.is_file()]
    for path in missing:
        context.log.warning(f"{path} missing: materialize the data assets for that language first")
    if len(missing) == len(train):
        raise dg.Failure(description="No training data: materialize the data assets for at least one language first")
    base = base_model.resolve(ws)
    save_processor(base, ws.models / "processor")
    run_dir = ws.run_dir(config.run_name)
    device = compute.pick()
    settings = TrainSettings(**{f.name: getattr(config, f.name) for f in dataclasses.fields(TrainSettings)})
    if config.sweep_study:
        best_path = ws.manifests / f"sweep_{config.sweep_study}_best.json"
        if not best_path.is_file():
            raise dg.Failure(
                description=f"sweep_study {config.sweep_study!r}: {best_path} missing; materialize "
                f"hyperparameter_sweep with that study first"
            )
        settings, best = apply_best(settings, best_path)
        context.log.info(f"using the best parameters of sweep {config.sweep_study}: {best}")
    job = {
        "base_model": base,
        "run_dir": str(run_dir),
        "device": device,
        "run_id": context.run_id,
        "train_manifests": [str(p) for p in train],
        "validation_manifests": [str(p) for p in validation],
        "log_path": str(ws.logs / "training" / f"{config.run_name}.log"),
        "settings": dataclasses.asdict(settings),
    }
    job_path = ws.logs / "training" / f"{config.run_name}.job.json"
    write_json(job_path, job)
    command = accelerate_command(job_path, config.num_processes, device)
    context.log.info(f"fine-tuning {base} → {run_dir}: {' '.join(command)}")
    result = dg.PipesSubprocessClient(cwd=str(Path(__file__).resolve().parents[2])).run(
        command=command, context=context, extras={"run_name": config.run_name}
    )
    write_text(ws.models / "whisper" / "LATEST", config.run_name + "\n")
    return result.get_materialize_result()
