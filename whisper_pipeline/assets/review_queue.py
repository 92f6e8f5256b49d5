"""``review_queue``: transcript-less audio drafted by the production model and ranked for review
(``stages/review.py``)."""

import dagster as dg

from whisper_pipeline.assets.common import config_from, language_partitions, progress_logger, run_stage
from whisper_pipeline.assets.promote import production_model
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.review import ReviewSettings, review_stage

ReviewConfig = config_from("ReviewConfig", ReviewSettings)


@dg.asset(
    group_name="evaluation",
    deps=[production_model, raw_audio],
    partitions_def=language_partitions,
    kinds={"python"},
    op_tags={"compute": "gpu"},
    pool="gpu",
)
def review_queue(
    context: dg.AssetExecutionContext,
    config: ReviewConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """``manifests/<lang>/review_queue.csv`` and ``.html``: the language's audio without a transcript, drafted
    by the production model (the base model while there is none) and ranked least confident first, with the
    sidecar ``.txt`` path where the corrected transcript makes the next intake take the file in."""
    ws = workspace.get()
    return run_stage(
        review_stage,
        ws,
        context.partition_key,
        settings_from(config, ReviewSettings),
        lambda: base_model.resolve(ws),
        compute.pick(),
        log=context.log,
        progress=progress_logger(context, "drafted"),
    )
