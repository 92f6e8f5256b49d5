"""Configurable Dagster resources: where state lives, which base model, which device."""

from whisper_pipeline.resources.alerts import AlertsResource, configured_alerts
from whisper_pipeline.resources.compute import ComputeResource
from whisper_pipeline.resources.model_source import ModelSourceResource
from whisper_pipeline.resources.workspace import WorkspaceResource

__all__ = ["AlertsResource", "ComputeResource", "configured_alerts", "ModelSourceResource", "WorkspaceResource"]
