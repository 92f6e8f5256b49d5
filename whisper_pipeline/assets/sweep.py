import dagster as dg

from whisper_pipeline.assets.alignments import alignments
from whisper_pipeline.assets.common import config_from, run_stage
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.sweep import sweep_stage
from whisper_pipeline.training.sweep import SweepSettings

SweepConfig = config_from("SweepConfig", SweepSettings)


@dg.asset(
    group_name="training",
    deps=[processed_audio, alignments],
    kinds={"optuna", "pytorch"},
    op_tags={"compute": "gpu"},
    pool="gpu",
)
def hyperparameter_sweep(
    context: dg.AssetExecutionContext,
    config: SweepConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """Optuna search over learning rate, batch size, weight decay, warmup and accumulation (short, pruned,
    resumable trials) → ``manifests/sweep_<study>.csv`` and ``_best.json``, which the ``checkpoint``
    setting ``sweep_study`` applies to the next training run."""
    ws = workspace.get()
    return run_stage(
        sweep_stage,
        ws,
        settings_from(config, SweepSettings),
        base_model=lambda: base_model.resolve(ws),
        device=compute.pick(),
        log=context.log,
    )
