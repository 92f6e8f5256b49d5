"""Jobs for the CLI, scripts and schedules: data preparation (per language), training, evaluation, promotion,
and the scheduled retraining that runs them in order."""

from dataclasses import asdict
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from whisper_pipeline import assets
from whisper_pipeline.assets import DATA_ASSETS, checkpoint, eval_report, hyperparameter_sweep, production_model
from whisper_pipeline.assets.common import config_from, language_partitions, to_metadata
from whisper_pipeline.assets.review_queue import review_queue
from whisper_pipeline.evaluation.gates import GateSettings
from whisper_pipeline.models import registry
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.retraining import RUN_TAG, ChainError, in_process_runner, run_chain
from whisper_pipeline.stages import settings_from
from whisper_pipeline.workspace import LANGUAGES, REPO_ROOT

data_prep_job = dg.define_asset_job(
    "data_prep_job",
    selection=dg.AssetSelection.assets(*DATA_ASSETS),
    partitions_def=language_partitions,
    description="raw_audio → … → alignments for one language partition",
)
training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.assets(checkpoint),
    description="Fine-tune one multilingual model on every language's train split",
)
evaluation_job = dg.define_asset_job(
    "evaluation_job",
    selection=dg.AssetSelection.assets(eval_report),
    partitions_def=language_partitions,
    description="Score the latest model (and the base model) on one language's test split",
)
sweep_job = dg.define_asset_job(
    "sweep_job",
    selection=dg.AssetSelection.assets(hyperparameter_sweep),
    description="Optuna hyperparameter search (short pruned trials); resumable by study name",
)
promotion_job = dg.define_asset_job(
    "promotion_job",
    selection=dg.AssetSelection.assets(production_model),
    description="Mark the latest (or a named) run as production if it passes the WER gates",
)
review_job = dg.define_asset_job(
    "review_job",
    selection=dg.AssetSelection.assets(review_queue),
    partitions_def=language_partitions,
    description="Draft one language's transcript-less audio with the production model and rank it for review",
)

DEFAULT_PRESET = "configs/train/base.yaml"
PARENT_TAG = "whisper_pipeline/retraining_run_id"

RetrainConfig = config_from(
    "RetrainConfig",
    GateSettings,
    run_name=(str, Field(description="The new run's name, e.g. retrain-2026-11-29-0300 (the schedule dates it)")),
    languages=(list[str], Field(default_factory=lambda: list(LANGUAGES), description="Trained and evaluated")),
    prepare_languages=(
        list[str],
        Field(default_factory=list, description="Languages whose data stages run first (their uploads changed)"),
    ),
    train_preset=(
        str,
        Field(default=DEFAULT_PRESET, description="Training preset (configs/train/*.yaml; relative to the repo)"),
    ),
    train_overrides=(
        dict[str, Any],
        Field(default_factory=dict, description="checkpoint settings that override the preset's, e.g. max_steps"),
    ),
    eval_overrides=(
        dict[str, Any],
        Field(default_factory=dict, description="eval_report settings, e.g. compare_base: false, batch_size"),
    ),
)


def training_run_config(preset: str, run_name: str, overrides: dict[str, Any]) -> dict:
    """``training_job``'s run config: the preset (its ``ops.checkpoint.config``, and any resources it sets)
    with ``overrides`` applied and the run named ``run_name``."""
    path = Path(preset) if Path(preset).is_absolute() else REPO_ROOT / preset
    if not path.is_file():
        raise dg.Failure(description=f"training preset {path} does not exist (retrain config train_preset)")
    config = yaml.safe_load(path.read_text()) or {}
    train = config.setdefault("ops", {}).setdefault("checkpoint", {}).setdefault("config", {})
    train.update(overrides, run_name=run_name)
    return config


def pipeline_definitions(resources: dict[str, Any]) -> dg.Definitions:
    """The assets, their checks and the jobs, bound to ``resources``: what ``retrain`` runs its steps with
    (the resources of its own run, so a test's or a team's settings reach every step)."""
    return dg.Definitions(
        assets=dg.load_assets_from_package_module(assets),
        asset_checks=dg.load_asset_checks_from_package_module(assets),
        jobs=ALL_JOBS,
        resources=resources,
    )


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "retraining"})
def retrain(
    context: dg.OpExecutionContext,
    config: RetrainConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> None:
    """Runs the retraining chain (``retraining.py:run_chain``) as child runs on this instance, each tagged
    with the run name: data stages of the changed languages → checkpoint → eval_report per language →
    production_model. A run refused by the gates is recorded and ends this op normally (production keeps
    the old model); a failing data, training or evaluation step fails it."""
    ws = workspace.get()
    steps = pipeline_definitions({"workspace": workspace, "base_model": base_model, "compute": compute})
    tags = {RUN_TAG: config.run_name, PARENT_TAG: context.run_id}  # find every step's run from either end
    execute = in_process_runner(steps.resolve_job_def, context.instance, tags=tags)
    training = training_run_config(config.train_preset, config.run_name, dict(config.train_overrides))
    gates = asdict(settings_from(config, GateSettings))
    before = (registry.production_run(ws) or {}).get("run", "")
    try:
        chain = run_chain(
            ws,
            execute,
            training,
            list(config.languages),
            list(config.prepare_languages),
            gates,
            evaluation=dict(config.eval_overrides),
            log=context.log,
        )
    except ChainError as exc:
        raise dg.Failure(
            description=f"retraining {config.run_name} stopped: {exc}",
            metadata={"failed_job": exc.job, "partition": exc.partition or "", "child_run_id": exc.outcome.run_id},
        ) from exc
    if not chain.promoted and not chain.refused_by_gates:
        raise dg.Failure(description=f"retraining {config.run_name}: promotion_job failed: {chain.refusal}")
    outcome = "promoted" if chain.promoted else "refused"
    if chain.promoted:
        context.log.info(f"{chain.run} is the production model (was {before or 'none'})")
    else:
        context.log.warning(f"{chain.run} refused by the gates, production stays {before or 'none'}: {chain.refusal}")
    context.add_output_metadata(
        to_metadata(
            {
                "run": chain.run,
                "outcome": outcome,
                "refusal": chain.refusal,
                "production_before": before,
                "production_after": (registry.production_run(ws) or {}).get("run", ""),
                "prepared": chain.prepared,
                "languages": chain.languages,
                "gate_failures": chain.gate_failures,
                "step_seconds": {k: round(v, 1) for k, v in chain.timings.items()},
                "child_runs": chain.run_ids,
            }
        )
    )


@dg.job(description="Scheduled retraining: data stages where uploads changed → train → evaluate → promote if gated")
def retraining_job() -> None:
    retrain()


ALL_JOBS = [data_prep_job, training_job, evaluation_job, sweep_job, promotion_job, review_job, retraining_job]
