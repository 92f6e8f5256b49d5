"""Retraining starts with new audio: a sensor that notices new or changed uploads per language."""

import hashlib
import json
import os

import dagster as dg

from whisper_pipeline.data.discovery import discover
from whisper_pipeline.jobs import data_prep_job
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES


def uploads_fingerprint(workspace: WorkspaceResource, lang: str) -> str:
    """Cheap: paths, sizes and modification times of the language's candidate files ('' if none)."""
    items, _ = discover(workspace.get().uploads, lang)
    if not items:
        return ""
    return json.dumps(sorted((i.audio, os.stat(i.audio).st_size, os.stat(i.audio).st_mtime_ns) for i in items))


@dg.sensor(job=data_prep_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def new_uploads_sensor(context: dg.SensorEvaluationContext, workspace: WorkspaceResource):
    """Requests a data-preparation run for each language whose uploads changed since the last check."""
    previous = json.loads(context.cursor) if context.cursor else {}
    current = {}
    for lang in LANGUAGES:
        fingerprint = uploads_fingerprint(workspace, lang)
        current[lang] = hashlib.sha256(fingerprint.encode()).hexdigest()
        if fingerprint and current[lang] != previous.get(lang):
            yield dg.RunRequest(partition_key=lang, run_key=f"{lang}-{current[lang][:16]}")
    context.update_cursor(json.dumps(current))
