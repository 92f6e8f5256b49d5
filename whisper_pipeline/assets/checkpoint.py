import dagster as dg

from whisper_pipeline.assets.alignments import alignments
from whisper_pipeline.assets.common import config_from, stage_failures
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.models.registry import set_latest_run
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.train import prepare_training
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.workspace import REPO_ROOT

# The Dagster config of the training step, generated from TrainSettings: one list of settings.
TrainConfig = config_from("TrainConfig", TrainSettings)

# One retry after a pause: the copy to object storage retries each file itself (training/artifacts.py), so a
# failure left is a longer outage or a crash; the same run_name resumes from the newest checkpoint, so the
# retry costs only the steps since then.
TRAINING_RETRY = dg.RetryPolicy(max_retries=1, delay=120, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@dg.asset(
    group_name="training",
    deps=[processed_audio, alignments],
    kinds={"pytorch", "huggingface"},
    op_tags={"compute": "gpu"},
    pool="gpu",
    retry_policy=TRAINING_RETRY,
)
def checkpoint(
    context: dg.AssetExecutionContext,
    config: TrainConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """One multilingual fine-tuned Whisper over all languages (each sample keeps its own language token),
    trained in a separate ``accelerate launch`` process through Dagster Pipes; re-materializing the same
    ``run_name`` resumes from its newest checkpoint."""
    ws = workspace.get()
    try:
        with stage_failures():
            launch = prepare_training(
                ws,
                settings_from(config, TrainSettings),
                base_model=lambda: base_model.resolve(ws),
                device=compute.pick(),
                run_id=context.run_id,
                log=context.log,
            )
    except dg.Failure as exc:  # missing data or a bad setting: trying again cannot help
        raise dg.Failure(description=exc.description, metadata=exc.metadata, allow_retries=False) from exc
    result = dg.PipesSubprocessClient(cwd=str(REPO_ROOT)).run(
        command=launch.command, context=context, extras={"run_name": launch.run_name}
    )
    set_latest_run(ws, launch.run_name)
    return result.get_materialize_result()
