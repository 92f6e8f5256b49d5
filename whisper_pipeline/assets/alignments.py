import dagster as dg

from whisper_pipeline.alignment.align import AlignmentSettings, load_aligner
from whisper_pipeline.assets.common import config_from, language_partitions, progress_logger, run_stage
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.align import align_stage

AlignmentConfig = config_from("AlignmentConfig", AlignmentSettings)


@dg.asset(
    partitions_def=language_partitions,
    group_name="dataset",
    deps=[processed_audio],
    kinds={"python", "pytorch"},
    op_tags={"compute": "gpu"},
    pool="gpu",
)
def alignments(
    context: dg.AssetExecutionContext,
    config: AlignmentConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """Word timestamps from stable-ts aligning each known transcript to its audio → ``outputs/<file_id>/``
    (JSON, TXT, SRT, VTT, karaoke LRC); recordings over 30 s cut into segments at word boundaries
    (or subtitle cues) → ``manifests/training/<lang>/<split>.jsonl``."""
    lang, ws = context.partition_key, workspace.get()
    return run_stage(
        align_stage,
        ws,
        lang,
        settings_from(config, AlignmentSettings),
        load_aligner=lambda: load_aligner(base_model.resolve(ws), compute.pick()),
        log=context.log,
        progress=progress_logger(context, f"aligned ({lang})"),
    )
