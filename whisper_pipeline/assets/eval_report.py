"""``eval_report``: WER/CER of a trained run, the base and the production model on one language's test
speakers (``stages/evaluate.py``)."""

import dagster as dg

from whisper_pipeline.assets.checkpoint import checkpoint
from whisper_pipeline.assets.common import config_from, language_partitions, run_stage
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.evaluation.report import EvalSettings
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.evaluate import evaluate_stage

EvalConfig = config_from("EvalConfig", EvalSettings, ParallelSettings)


@dg.asset(
    partitions_def=language_partitions,
    group_name="evaluation",
    deps=[checkpoint, processed_audio],
    kinds={"pytorch"},
    op_tags={"compute": "gpu"},
    pool="gpu",
)
def eval_report(
    context: dg.AssetExecutionContext,
    config: EvalConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """WER/CER (jiwer) of the fine-tuned and base models on this language's held-out test speakers; the models
    transcribe in this step's process, or one Ray task per model when ``ray_address`` (or
    ``$WHISPER_PIPELINE_RAY_ADDRESS``) is set."""
    parallel = settings_from(config, ParallelSettings)
    return run_stage(
        evaluate_stage,
        workspace.get(),
        context.partition_key,
        settings_from(config, EvalSettings),
        base_source=base_model.source,
        device=compute.pick_for(parallel),
        log=context.log,
        parallel=parallel,
    )
