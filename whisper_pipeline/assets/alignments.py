from functools import partial

import dagster as dg

from whisper_pipeline.alignment.align import AlignmentSettings, load_aligner
from whisper_pipeline.assets.common import config_from, language_partitions, progress_logger, run_stage
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.device import on_gpu
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.align import align_stage

AlignmentConfig = config_from("AlignmentConfig", AlignmentSettings, ParallelSettings)


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
    (or subtitle cues) → ``manifests/training/<lang>/<split>.jsonl``. In this step's process with one model, or on
    Ray when ``ray_address`` (or ``$WHISPER_PIPELINE_RAY_ADDRESS``) is set: a task per batch of ``batch_size``
    files, one GPU each on ``cuda``, the model resolved here and loaded once by each Ray worker."""
    lang, ws = context.partition_key, workspace.get()
    parallel = settings_from(config, ParallelSettings)
    gpus = 0.0
    if parallel.address():  # the cluster's device; Ray gives each task its GPU: "cuda", not "cuda:N"
        device = compute.pick_for(parallel)
        load, gpus = partial(load_aligner, base_model.resolve(ws), device), float(on_gpu(device))
    else:
        load = lambda: load_aligner(base_model.resolve(ws), compute.pick())  # noqa: E731 - resolved when needed
    return run_stage(
        align_stage,
        ws,
        lang,
        settings_from(config, AlignmentSettings),
        load_aligner=load,
        log=context.log,
        progress=progress_logger(context, f"aligned ({lang})"),
        parallel=parallel,
        gpus_per_task=gpus,
    )
