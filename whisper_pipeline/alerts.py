"""Alerts when a run fails: one JSON line appended to ``ws.alerts_log`` and, when a webhook is configured, the
same JSON posted to it. Dagster-free: the run-failure sensor (``sensors.py``) gathers the facts and calls these.

A failure to post is logged, never raised: the alert is already on disk, and a broken webhook must not turn
one failed run into a failing sensor."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from whisper_pipeline.io import file_lock
from whisper_pipeline.stages import DEFAULT_LOG, Log

WEBHOOK_ENV = "WHISPER_PIPELINE_ALERT_WEBHOOK"
POST_TIMEOUT_S = 5.0


def failure_alert(
    run_id: str, job: str, partition: str | None, steps: list[str], message: str, errors: list[str], when: float
) -> dict:
    """What failed, as one record: run, job, partition, the failed steps and their errors, and when."""
    return {
        "event": "run_failure",
        "run_id": run_id,
        "job": job,
        "partition": partition,
        "failed_steps": steps,
        "message": message,
        "errors": errors,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
    }


def append_alert(path: Path, alert: dict) -> Path:
    """Append ``alert`` as one line (under a lock, one write, so concurrent sensors never interleave lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(alert, ensure_ascii=False, sort_keys=True) + "\n"
    with file_lock(path), open(path, "a", encoding="utf-8") as f:
        f.write(line)
    return path


def post_alert(url: str, alert: dict, timeout: float = POST_TIMEOUT_S, log: Log = DEFAULT_LOG) -> bool:
    """POST ``alert`` as JSON to ``url``; True when the server answered 2xx. Errors are logged, not raised."""
    body = json.dumps(alert, ensure_ascii=False, sort_keys=True).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError is a URLError; ValueError: bad URL
        log.warning(f"alert for run {alert.get('run_id')} not posted to the webhook: {exc}")
        return False
