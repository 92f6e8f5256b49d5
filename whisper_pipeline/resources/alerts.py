import os

import dagster as dg
from pydantic import Field

from whisper_pipeline.alerts import WEBHOOK_ENV


class AlertsResource(dg.ConfigurableResource):
    """Where run-failure alerts are posted besides ``logs/alerts.jsonl``: a webhook URL (empty = none). In
    ``definitions.py`` it is read from ``WHISPER_PIPELINE_ALERT_WEBHOOK``; a URL can hold a token, so it
    never lives in the repository."""

    webhook_url: str | None = Field(default=None, description="POST each alert here as JSON; empty = file only")

    def webhook(self) -> str:
        return (self.webhook_url or "").strip()


def configured_alerts() -> AlertsResource:
    """The webhook from ``WHISPER_PIPELINE_ALERT_WEBHOOK`` as a Dagster ``EnvVar`` (resolved when the sensor
    runs, shown as an env var in the UI) when it is set; else no webhook. Why the check: an ``EnvVar`` whose
    variable is unset is a config error in Dagster, and an unset webhook is a valid choice here."""
    return AlertsResource(webhook_url=dg.EnvVar(WEBHOOK_ENV) if os.environ.get(WEBHOOK_ENV) else None)
