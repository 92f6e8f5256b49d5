import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.alignments import alignments
from whisper_pipeline.assets.common import markdown_table
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.resources import (
    ComputeResource,
    ModelSourceResource,
    WorkspaceResource,
)
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.training.sweep import SearchSpace, run_sweep, write_results
from whisper_pipeline.workspace import LANGUAGES


class SweepConfig(dg.Config):
    study: str = Field(default="sweep1", description="Study name; the same name resumes the sweep")
    n_trials: int = Field(default=8, description="Trials the study should hold when done (finished ones count)")
    trial_max_steps: int = Field(default=30, description="Optimizer steps per trial")
    eval_steps: int = Field(default=10, description="Evaluate (and report for pruning) every N steps")
    score_with_wer: bool = Field(default=False, description="Score trials by validation WER (decoding) instead of loss")
    languages: list[str] = Field(default=list(LANGUAGES))
    learning_rate_min: float = 1e-6
    learning_rate_max: float = 1e-4
    batch_sizes: list[int] = Field(default=[4, 8, 16])
    weight_decay_max: float = 0.1
    warmup_ratio_max: float = 0.2
    gradient_accumulation: list[int] = Field(default=[1, 2])


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
    rows = {
        s: [r for l in config.languages if (p := ws.ready_manifest(l, s)).is_file() for r in read_jsonl(p)]
        for s in ("train", "validation")
    }
    if not rows["train"] or not rows["validation"]:
        raise dg.Failure(description="A sweep needs train and validation manifests: materialize the data assets first")
    space = SearchSpace(
        (config.learning_rate_min, config.learning_rate_max),
        config.batch_sizes,
        (0.0, config.weight_decay_max),
        (0.0, config.warmup_ratio_max),
        config.gradient_accumulation,
    )
    trial_settings = TrainSettings(
        max_steps=config.trial_max_steps,
        eval_steps=config.eval_steps,
        predict_with_generate=config.score_with_wer,
        save_total_limit=1,
        logging_steps=config.eval_steps,
    )
    summary = run_sweep(
        config.study,
        ws.manifests / "sweeps.db",
        base_model.resolve(ws),
        rows["train"],
        rows["validation"],
        ws.models / "sweeps" / config.study,
        config.n_trials,
        trial_settings,
        space,
        compute.pick(),
        on_trial=lambda t: context.log.info(f"trial {t['trial']}: {t}"),
    )
    csv_path, best_path = ws.manifests / f"sweep_{config.study}.csv", ws.manifests / f"sweep_{config.study}_best.json"
    write_results(summary, csv_path, best_path)
    return dg.MaterializeResult(
        metadata={
            "study": config.study,
            "trials": len(summary["trials"]),
            "pruned": sum(t["state"] == "PRUNED" for t in summary["trials"]),
            "metric": summary["metric"],
            "best_value": dg.MetadataValue.float(
                float(summary["best_value"] if summary["best_value"] is not None else -1)
            ),
            "best_params": dg.MetadataValue.json(summary["best_params"]),
            "results": dg.MetadataValue.md(
                markdown_table(
                    summary["trials"],
                    [
                        "trial",
                        "state",
                        "value",
                        "learning_rate",
                        "batch_size",
                        "weight_decay",
                        "warmup_ratio",
                        "gradient_accumulation_steps",
                    ],
                )
            ),
            "results_csv": dg.MetadataValue.path(str(csv_path)),
            "best_params_file": dg.MetadataValue.path(str(best_path)),
        }
    )
