"""Jobs for the CLI, scripts and schedules: data preparation (per language), training, evaluation."""

import dagster as dg

from whisper_pipeline.assets import DATA_ASSETS, checkpoint, eval_report, hyperparameter_sweep, production_model
from whisper_pipeline.assets.common import language_partitions

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

ALL_JOBS = [data_prep_job, training_job, evaluation_job, sweep_job, promotion_job]
