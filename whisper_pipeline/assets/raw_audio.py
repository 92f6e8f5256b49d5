import dagster as dg

from whisper_pipeline.assets.common import config_from, language_partitions, progress_logger, run_stage
from whisper_pipeline.data.inventory import IntakeRules
from whisper_pipeline.harvest.sources import HarvestOptions
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.intake import intake

IntakeConfig = config_from("IntakeConfig", IntakeRules, HarvestOptions)


@dg.asset(partitions_def=language_partitions, group_name="intake", kinds={"python", "audio"})
def raw_audio(
    context: dg.AssetExecutionContext, config: IntakeConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Inventory of ``uploads/<lang>/``: every file decoded and classified; problems named, never fatal.

    Incremental: unchanged files are only stat'ed; known content (by SHA-256) is never decoded twice.
    """
    lang = context.partition_key
    return run_stage(
        intake,
        workspace.get(),
        lang,
        settings_from(config, IntakeRules),
        settings_from(config, HarvestOptions),
        run_id=context.run_id,
        log=context.log,
        progress=progress_logger(context, f"checked audio ({lang})"),
    )
