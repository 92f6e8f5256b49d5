import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.common import (
    config_from,
    language_partitions,
    materialize,
    progress_logger,
    stage_failures,
)
from whisper_pipeline.data.inventory import IntakeRules
from whisper_pipeline.harvest.sources import HarvestOptions
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.intake import intake

IntakeConfig = config_from(
    "IntakeConfig",
    IntakeRules,
    HarvestOptions,
    ParallelSettings,
    harvest_retries=(
        int,
        Field(default=2, description="Run again when harvested items failed (network), up to this many times"),
    ),
    harvest_retry_delay_s=(float, Field(default=30.0, description="First wait before such a retry; doubles each time")),
)

PERMANENT_HARVEST_ERRORS = ("HTTP Error 404", "HTTP Error 410", "Unsupported URL")

# an exception (yt-dlp crashing on a network error, a full disk) is retried with backoff; the intake is
# incremental, so a retry only redoes what was not finished
HARVEST_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@dg.asset(
    partitions_def=language_partitions, group_name="intake", kinds={"python", "audio"}, retry_policy=HARVEST_RETRY
)
def raw_audio(
    context: dg.AssetExecutionContext, config: IntakeConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Inventory of ``uploads/<lang>/``: every file decoded and classified; problems named, never fatal.

    Incremental: unchanged files are only stat'ed; known content (by SHA-256) is never decoded twice; new
    content is decoded in local processes, or on Ray when ``ray_address`` (or ``$WHISPER_PIPELINE_RAY_ADDRESS``)
    is set. Harvested items that failed to download for a reason that may pass (a 5xx, a timeout) are tried again
    (``harvest_retries``, backoff; the download archive skips those already fetched) before the inventory is
    accepted with them missing.
    """
    lang = context.partition_key
    ws = workspace.get()
    log_offset = ws.harvest_log(lang).stat().st_size if ws.harvest_log(lang).is_file() else 0
    with stage_failures():
        result = intake(
            ws,
            lang,
            settings_from(config, IntakeRules),
            settings_from(config, HarvestOptions),
            run_id=context.run_id,
            log=context.log,
            progress=progress_logger(context, f"checked audio ({lang})"),
            parallel=settings_from(config, ParallelSettings),
        )
    failed = transient_failures(ws.harvest_log(lang), log_offset)
    if failed and context.retry_number < config.harvest_retries:
        wait = config.harvest_retry_delay_s * 2**context.retry_number
        context.log.warning(
            f"{len(failed)} harvested item(s) failed ({lang}: {failed[0]['reason']}); trying again in {wait:.0f} s"
        )
        raise dg.RetryRequested(max_retries=config.harvest_retries, seconds_to_wait=wait)
    return materialize(result)


def transient_failures(harvest_log: Path, offset: int) -> list[dict]:
    """The failed items this attempt appended to the harvest log (from byte ``offset``), except those no retry
    can fix (a missing page, an unsupported URL: ``harvest/ytdlp.py`` gives up on those at once too)."""
    if not harvest_log.is_file():
        return []
    with open(harvest_log, encoding="utf-8") as f:
        f.seek(offset)
        lines = [json.loads(line) for line in f if line.strip()]
    return [
        line
        for line in lines
        if line.get("status") == "failed" and not any(p in line.get("reason", "") for p in PERMANENT_HARVEST_ERRORS)
    ]
