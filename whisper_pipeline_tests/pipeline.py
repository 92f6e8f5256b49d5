"""Helper for the end-to-end tests: materialize the whole graph into one workspace."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from whisper_pipeline.assets import DATA_ASSETS, checkpoint, eval_report
from whisper_pipeline.assets.checks import ALL_CHECKS
from whisper_pipeline.resources import (
    ComputeResource,
    ModelSourceResource,
    WorkspaceResource,
)
from whisper_pipeline.workspace import Workspace


def pipeline_resources(ws: Workspace, model: str) -> dict:
    return {
        "workspace": WorkspaceResource(root=str(ws.root)),
        "base_model": ModelSourceResource(source=model),
        "compute": ComputeResource(device="cpu"),
    }


# eval_report's degraded conditions in the whole-graph tests: one, not the default ~14 (each multiplies the
# evaluation's transcriptions; the full set is the demo's)
TEST_CONDITIONS = ["pink_10db"]


def materialize_everything(
    ws: Workspace, model: str, languages: list[str], train: dict, conditions: list[str] | None = None
) -> tuple[dg.DagsterInstance, list]:
    """Data assets (with their checks) per language, then training, then evaluation per language
    (under ``conditions``, default ``TEST_CONDITIONS``).

    Returns the instance and every asset-check evaluation."""
    resources = pipeline_resources(ws, model)
    instance = dg.DagsterInstance.ephemeral()
    checks = []
    for lang in languages:
        result = dg.materialize([*DATA_ASSETS, *ALL_CHECKS], partition_key=lang, resources=resources, instance=instance)
        assert result.success
        checks += result.get_asset_check_evaluations()
    run_config = {"ops": {"checkpoint": {"config": {"languages": languages, **train}}}}
    assert dg.materialize([checkpoint], resources=resources, instance=instance, run_config=run_config).success
    evaluation = {
        "ops": {"eval_report": {"config": {"conditions": TEST_CONDITIONS if conditions is None else conditions}}}
    }
    for lang in languages:
        assert dg.materialize(
            [eval_report], partition_key=lang, resources=resources, instance=instance, run_config=evaluation
        ).success
    return instance, checks


def latest_metadata(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> dict:
    event = (
        instance.get_latest_materialization_event(dg.AssetKey(asset))
        if partition is None
        else next(
            e
            for e in reversed(instance.fetch_materializations(dg.AssetKey(asset), limit=100).records)
            if e.partition_key == partition
        ).event_log_entry
    )
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def cli_env(ws: Workspace, home: Path, model: str) -> dict[str, str]:
    """The environment of a ``dagster`` CLI process: what ``definitions.py`` reads (workspace root,
    base model, device) and the instance (``DAGSTER_HOME``)."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "WHISPER_PIPELINE_HOME": str(ws.root),
        "WHISPER_PIPELINE_BASE_MODEL": model,
        "WHISPER_PIPELINE_DEVICE": "cpu",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
