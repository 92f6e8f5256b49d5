"""Sensors: new uploads start data preparation; a failed run leaves an alert; freshness checks get evaluated."""

import json
import time
import warnings

import dagster as dg

from whisper_pipeline.alerts import append_alert, failure_alert, post_alert
from whisper_pipeline.assets.freshness import FRESHNESS_CHECKS
from whisper_pipeline.jobs import data_prep_job
from whisper_pipeline.resources import AlertsResource, WorkspaceResource
from whisper_pipeline.retraining import uploads_fingerprint
from whisper_pipeline.workspace import LANGUAGES


@dg.sensor(job=data_prep_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def new_uploads_sensor(context: dg.SensorEvaluationContext, workspace: WorkspaceResource):
    """Requests a data-preparation run for each language whose uploads changed since the last check."""
    previous = json.loads(context.cursor) if context.cursor else {}
    current = {}
    ws = workspace.get()
    for lang in LANGUAGES:
        current[lang] = uploads_fingerprint(ws, lang)
        if current[lang] and current[lang] != previous.get(lang):
            yield dg.RunRequest(partition_key=lang, run_key=f"{lang}-{current[lang][:16]}")
    context.update_cursor(json.dumps(current))


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every failed run (any job) → one line in logs/alerts.jsonl, and a POST to the webhook if set",
)
def alert_on_run_failure(
    context: dg.RunFailureSensorContext, workspace: WorkspaceResource, alerts: AlertsResource
) -> None:
    """Writes what failed (run, job, partition, steps, errors, time) where a person or a pager will see it."""
    run = context.dagster_run
    failures = context.get_step_failure_events()
    alert = failure_alert(
        run_id=run.run_id,
        job=run.job_name,
        partition=run.tags.get("dagster/partition"),
        steps=[e.step_key for e in failures if e.step_key],
        message=context.failure_event.message or "",
        errors=[e.step_failure_data.error.message.strip() for e in failures if e.step_failure_data.error],
        when=_ended_at(context.instance, run.run_id),
    )
    path = append_alert(workspace.get().alerts_log, alert)
    context.log.info(f"alert for run {run.run_id} ({run.job_name}) written to {path}")
    if alerts.webhook():
        post_alert(alerts.webhook(), alert, log=context.log)


def _ended_at(instance: dg.DagsterInstance, run_id: str) -> float:
    record = instance.get_run_record_by_id(run_id)
    return (record.end_time if record else None) or time.time()


# evaluates the freshness checks when they are due (off by default, like the schedule; see assets/freshness.py
# for why these are checks rather than Dagster 1.13's FreshnessPolicy)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=dg.SupersessionWarning)
    freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=FRESHNESS_CHECKS, minimum_interval_seconds=3600, name="freshness_checks_sensor"
    )
