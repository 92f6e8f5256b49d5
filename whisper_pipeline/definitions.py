"""The one ``Definitions`` object: ``dagster dev -m whisper_pipeline.definitions``.

Assets and asset checks are found in the ``assets`` package (one module per stage), so adding a
stage means adding a module there, not editing this file.
"""

import dagster as dg

from whisper_pipeline import assets
from whisper_pipeline.device import configured_device
from whisper_pipeline.jobs import ALL_JOBS
from whisper_pipeline.models.source import configured_base_model
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource, configured_alerts
from whisper_pipeline.schedules import retraining_schedule
from whisper_pipeline.sensors import alert_on_run_failure, freshness_checks_sensor, new_uploads_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_package_module(assets),
    asset_checks=dg.load_asset_checks_from_package_module(assets),
    jobs=ALL_JOBS,
    schedules=[retraining_schedule],
    sensors=[new_uploads_sensor, alert_on_run_failure, freshness_checks_sensor],
    resources={
        "workspace": WorkspaceResource(),  # empty root: $WHISPER_PIPELINE_HOME, else data/workspace
        "base_model": ModelSourceResource(source=configured_base_model()),
        "compute": ComputeResource(device=configured_device()),
        "alerts": configured_alerts(),  # webhook: $WHISPER_PIPELINE_ALERT_WEBHOOK (optional)
    },
)
