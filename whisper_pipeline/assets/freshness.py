"""A freshness check on ``production_model``: a warning when production was last updated longer ago than the
retraining schedule's period plus a margin (the schedule is off, every retraining is refused or skipped, or
runs fail). A warning, not an error: production keeps serving; someone should look."""

import warnings
from datetime import timedelta
from itertools import islice

import dagster as dg
from dagster._utils.schedules import cron_string_iterator

from whisper_pipeline.assets.promote import production_model
from whisper_pipeline.retraining import retrain_cron, retrain_timezone

FRESHNESS_MARGIN = timedelta(days=1)


def schedule_period(cron: str, timezone: str) -> timedelta:
    """The longest gap between consecutive ticks of ``cron`` over the next few (a week for a weekly cron)."""
    ticks = list(islice(cron_string_iterator(0.0, cron, timezone), 12))
    return max(b - a for a, b in zip(ticks, ticks[1:]))


# Dagster 1.13 marks this builder "superseded" by FreshnessPolicy objects on the asset; those are judged by the
# daemon only, whereas a check is a plain asset check: it runs in process (tests), in the UI, and on the sensor.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=dg.SupersessionWarning)
    (production_model_freshness,) = dg.build_last_update_freshness_checks(
        assets=[production_model],
        lower_bound_delta=schedule_period(retrain_cron(), retrain_timezone()) + FRESHNESS_MARGIN,
        severity=dg.AssetCheckSeverity.WARN,
    )

FRESHNESS_CHECKS = [production_model_freshness]
