import dagster as dg

from whisper_pipeline.assets.common import config_from, language_partitions, progress_logger, run_stage
from whisper_pipeline.assets.splits import splits
from whisper_pipeline.audio.preprocess import PreprocessOptions
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.preprocess import preprocess_stage

PreprocessConfig = config_from("PreprocessConfig", PreprocessOptions, ParallelSettings)


@dg.asset(partitions_def=language_partitions, group_name="dataset", deps=[splits], kinds={"python", "audio"})
def processed_audio(
    context: dg.AssetExecutionContext, config: PreprocessConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """16 kHz mono 16-bit audio of every split line under ``processed/audio/<lang>/``: soxr resampling,
    VAD silence trimming, optional loudness normalization; incremental; durations re-checked. The files are
    converted in local processes, or on Ray when ``ray_address`` (or ``$WHISPER_PIPELINE_RAY_ADDRESS``) is set."""
    return run_stage(
        preprocess_stage,
        workspace.get(),
        context.partition_key,
        settings_from(config, PreprocessOptions),
        settings_from(config, ParallelSettings),
        log=context.log,
        progress_for=lambda label: progress_logger(context, label),
    )
