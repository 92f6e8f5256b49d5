"""Fine-tune a Whisper model on manifest lines and save it with ``save_pretrained``.

A run writes periodic checkpoints under ``<run_dir>/checkpoints``; materializing the same run
again resumes from the newest one instead of starting over.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from whisper_pipeline.io import write_json
from whisper_pipeline.training.data import SpeechSeq2SeqCollator, make_dataset


@dataclass
class TrainSettings:
    epochs: float = 3.0
    learning_rate: float = 3e-5
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_steps: int = -1
    seed: int = 42
    save_total_limit: int = 2
    freeze_encoder: bool = False
    logging_steps: int = 5
    augment_config: str = ""  # path of an augment.yaml; empty = no augmentation


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _latest_checkpoint(checkpoints: Path) -> str | None:
    found = sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def train_whisper(
    base_model: str,
    train_rows: list[dict],
    validation_rows: list[dict],
    run_dir: str | Path,
    settings: TrainSettings,
    on_log: Callable[[dict], None] | None = None,
    device: str | None = None,
) -> dict:
    """Train, save model + processor + generation config into ``run_dir``; return the run summary."""
    import torch
    from transformers import (
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        TrainerCallback,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    if not train_rows:
        raise ValueError("no training samples: the train split is empty for every language")
    run_dir = Path(run_dir)
    device = device or pick_device()
    processor = WhisperProcessor.from_pretrained(base_model)
    model = WhisperForConditionalGeneration.from_pretrained(base_model)
    model.generation_config.forced_decoder_ids = None
    model.config.forced_decoder_ids = None
    if settings.freeze_encoder:
        model.freeze_encoder()
    max_labels = model.config.max_target_positions
    augmenter = None
    if settings.augment_config:
        from whisper_pipeline.audio.augment import Augmenter, load_augment_config

        augmenter = Augmenter(load_augment_config(settings.augment_config))
    train_ds, dropped_train = make_dataset(train_rows, processor, max_labels, augmenter)
    val_ds, dropped_val = make_dataset(validation_rows, processor, max_labels) if validation_rows else (None, [])

    steps_per_epoch = math.ceil(len(train_ds) / (settings.batch_size * settings.gradient_accumulation_steps))
    total_steps = settings.max_steps if settings.max_steps > 0 else math.ceil(steps_per_epoch * settings.epochs)
    args = Seq2SeqTrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        warmup_steps=int(total_steps * settings.warmup_ratio),
        logging_steps=settings.logging_steps,
        save_strategy="steps",
        save_steps=max(1, steps_per_epoch),
        save_total_limit=settings.save_total_limit,
        eval_strategy="no",
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        fp16=device == "cuda" and not torch.cuda.is_bf16_supported(),
        bf16=device == "cuda" and torch.cuda.is_bf16_supported(),
        seed=settings.seed,
        use_cpu=device == "cpu",
        dataloader_pin_memory=device == "cuda",
        disable_tqdm=False,
    )
    history: list[dict] = []

    class ForwardLogs(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            entry = {"step": state.global_step, "epoch": state.epoch, **(logs or {})}
            history.append(entry)
            if on_log:
                on_log(entry)

    collator = SpeechSeq2SeqCollator(processor.tokenizer.pad_token_id, model.config.decoder_start_token_id)
    trainer = Seq2SeqTrainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        data_collator=collator, processing_class=processor.feature_extractor,
        callbacks=[ForwardLogs()],
    )
    resume_from = _latest_checkpoint(run_dir / "checkpoints")
    started = time.time()
    output = trainer.train(resume_from_checkpoint=resume_from)
    wall = time.time() - started
    eval_metrics = trainer.evaluate() if val_ds is not None else {}

    model.generation_config.forced_decoder_ids = None
    trainer.save_model(str(run_dir))
    processor.save_pretrained(str(run_dir))
    summary = {
        "base_model": base_model,
        "device": device,
        "hardware": {"platform": platform.platform(), "torch": torch.__version__,
                     "cuda": torch.cuda.get_device_name(0) if device == "cuda" else None},
        "settings": asdict(settings),
        "train_samples": len(train_ds),
        "validation_samples": len(val_ds) if val_ds is not None else 0,
        "dropped_too_long_labels": dropped_train + dropped_val,
        "languages": sorted({r["language"] for r in train_rows}),
        "global_step": output.global_step,
        "train_loss": output.training_loss,
        "validation_loss": eval_metrics.get("eval_loss"),
        "resumed_from": resume_from,
        "wall_time_s": round(wall, 1),
        "history": history,
    }
    write_json(run_dir / "run_manifest.json", summary)
    return summary


def load_run_summary(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "run_manifest.json").read_text())
