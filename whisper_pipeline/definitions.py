"""The one ``Definitions`` object: ``dagster dev -m whisper_pipeline.definitions``."""

import dagster as dg

from whisper_pipeline.assets import ALL_ASSETS
from whisper_pipeline.assets.checks import ALL_CHECKS
from whisper_pipeline.assets.gate_checks import EVAL_CHECKS
from whisper_pipeline.device import configured_device
from whisper_pipeline.jobs import (
    data_prep_job,
    evaluation_job,
    promotion_job,
    sweep_job,
    training_job,
)
from whisper_pipeline.models.source import configured_base_model
from whisper_pipeline.resources import (
    ComputeResource,
    ModelSourceResource,
    WorkspaceResource,
)
from whisper_pipeline.sensors import new_uploads_sensor

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=[*ALL_CHECKS, *EVAL_CHECKS],
    jobs=[data_prep_job, training_job, evaluation_job, sweep_job, promotion_job],
    sensors=[new_uploads_sensor],
    resources={
        "workspace": WorkspaceResource(),  # empty root: $WHISPER_PIPELINE_HOME, else data/workspace
        "base_model": ModelSourceResource(source=configured_base_model()),
        "compute": ComputeResource(device=configured_device()),
    },
)
