import json
import time

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.alignments import alignments
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.io import read_jsonl, write_text
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource
from whisper_pipeline.training.train import TrainSettings, train_whisper
from whisper_pipeline.workspace import LANGUAGES, REPO_ROOT


class TrainConfig(dg.Config):
    run_name: str = Field(default="run1", description="models/whisper/<run_name>/; the same name resumes a crashed run")
    languages: list[str] = Field(default=list(LANGUAGES), description="Language partitions to train on")
    epochs: float = 3.0
    learning_rate: float = 3e-5
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_steps: int = Field(default=-1, description="> 0 overrides epochs")
    freeze_encoder: bool = False
    seed: int = 42
    augment: bool = Field(default=False, description="Augment audio on the fly (noise, speed, pitch, reverb, gain)")
    augment_config: str = Field(default=str(REPO_ROOT / "configs" / "augment.yaml"), description="Augmentation YAML")


@dg.asset(group_name="training", deps=[processed_audio, alignments], kinds={"pytorch", "huggingface"},
          op_tags={"compute": "gpu"}, pool="gpu")
def checkpoint(context: dg.AssetExecutionContext, config: TrainConfig, workspace: WorkspaceResource,
               base_model: ModelSourceResource, compute: ComputeResource) -> dg.MaterializeResult:
    """One multilingual fine-tuned Whisper over all languages (each sample keeps its own language token)."""
    ws = workspace.get()

    def lines(split: str) -> list[dict]:
        out = []
        for lang in config.languages:
            path = ws.ready_manifest(lang, split)
            if path.is_file():
                out += read_jsonl(path)
            elif split == "train":
                context.log.warning(f"{lang}: no processed {split} manifest; materialize processed_audio[{lang}] first")
        return out

    train_rows, val_rows = lines("train"), lines("validation")
    if not train_rows:
        raise dg.Failure(description="No training data: materialize the data assets for at least one language first")
    base = base_model.resolve(ws)
    run_dir = ws.run_dir(config.run_name)
    context.log.info(f"fine-tuning {base} on {len(train_rows)} utterances → {run_dir}")

    log_path = ws.logs / "training" / f"{config.run_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def on_log(entry: dict) -> None:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"run_id": context.run_id, "time": time.time(), **entry}, default=str) + "\n")
        if "loss" in entry:
            context.log.info(f"step {entry['step']} epoch {entry.get('epoch', 0):.2f} loss {entry['loss']:.4f} lr {entry.get('learning_rate', 0):.2e}")

    settings = TrainSettings(**{k: v for k, v in config.model_dump().items() if k in TrainSettings.__dataclass_fields__})
    settings.augment_config = config.augment_config if config.augment else ""
    summary = train_whisper(base, train_rows, val_rows, run_dir, settings, on_log=on_log, device=compute.pick())
    write_text(ws.models / "whisper" / "LATEST", config.run_name + "\n")
    return dg.MaterializeResult(metadata={
        "run": config.run_name,
        "path": dg.MetadataValue.path(str(run_dir)),
        "base_model": base,
        "device": summary["device"],
        "train_utterances": summary["train_samples"],
        "validation_utterances": summary["validation_samples"],
        "train_hours": dg.MetadataValue.float(round(sum(r["duration"] for r in train_rows) / 3600, 4)),
        "steps": summary["global_step"],
        "train_loss": dg.MetadataValue.float(float(summary["train_loss"])),
        "validation_loss": dg.MetadataValue.float(float(summary["validation_loss"] or 0.0)),
        "wall_time_s": dg.MetadataValue.float(summary["wall_time_s"]),
        "resumed_from": summary["resumed_from"] or "",
        "training_log": dg.MetadataValue.path(str(log_path)),
    })
