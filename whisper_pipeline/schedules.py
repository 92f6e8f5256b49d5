"""The retraining schedule: weekly by default (``WHISPER_PIPELINE_RETRAIN_CRON``, ``…_TIMEZONE``), shipped
stopped like the uploads sensor. Each tick either skips, saying why, or requests one ``retraining_job`` run
under a new dated run name; what to retrain is decided by ``retraining.py:plan_retraining``."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import dagster as dg

from whisper_pipeline.jobs import DEFAULT_PRESET, retraining_job
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.retraining import (
    PRESET_ENV,
    RUN_TAG,
    dated_run_name,
    plan_retraining,
    retrain_cron,
    retrain_timezone,
)

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def retraining_in_progress(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A ``retraining_job`` run that is queued or running, if any."""
    records = instance.get_run_records(dg.RunsFilter(job_name=retraining_job.name, statuses=IN_PROGRESS), limit=1)
    return records[0].dagster_run if records else None


@dg.schedule(
    job=retraining_job,
    cron_schedule=retrain_cron(),
    execution_timezone=retrain_timezone(),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Retrain when the data changed: skips (with the reason) when nothing changed since production",
)
def retraining_schedule(context: dg.ScheduleEvaluationContext, workspace: WorkspaceResource):
    running = retraining_in_progress(context.instance)
    if running is not None:
        return dg.SkipReason(
            f"retraining run {running.run_id} ({running.tags.get(RUN_TAG, '?')}) is still {running.status.value}: "
            "one retraining at a time"
        )
    plan = plan_retraining(workspace.get())
    if not plan.run:
        return dg.SkipReason(plan.reason)
    run_name = dated_run_name(context.scheduled_execution_time or datetime.now(UTC))
    context.log.info(f"{run_name}: {plan.reason}")
    config = {
        "run_name": run_name,
        "languages": plan.languages,
        "prepare_languages": plan.prepare,
        "train_preset": os.environ.get(PRESET_ENV) or DEFAULT_PRESET,
    }
    return dg.RunRequest(
        run_key=run_name,
        run_config={"ops": {"retrain": {"config": config}}},
        tags={RUN_TAG: run_name, "whisper_pipeline/retrain_reason": plan.reason[:200]},
    )
