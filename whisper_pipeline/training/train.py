"""Fine-tune a Whisper model on manifest lines: the recipe of Hugging Face's
``run_speech_recognition_seq2seq.py``, made multilingual and resumable.

* each sample's labels carry its own language token; evaluation decodes with each sample's
  language and scores WER with the BCS evaluation normalizer; the best checkpoint by WER is kept;
* precision from the hardware (bf16 > fp16 on GPU, fp32 on CPU), gradient checkpointing and
  accumulation, SpecAugment, optional frozen encoder, warmup + schedule, early stopping;
* on a GPU the log-mel features are computed in the training step, a batch at a time on the device
  (``features.py``): the loader workers only read (and augment) audio, so they no longer cap the GPU;
  SDPA attention, fused AdamW, ``torch.compile`` as an option;
* periodic checkpoints under ``<run_dir>/checkpoints`` (a bounded number); training the same run
  again resumes from the newest one, data order and random state included;
* a JSON-lines log (loss, learning rate, grad norm, samples/s, GPU utilisation/memory) and
  TensorBoard event files.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from transformers import Seq2SeqTrainer, TrainerCallback

from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.device import on_gpu, training_device
from whisper_pipeline.training.data import SpeechSeq2SeqCollator, make_dataset
from whisper_pipeline.training.disk import check_room_for_run, checkpoints_held, run_bytes
from whisper_pipeline.training.features import LogMel, resolve_feature_device
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.workspace import REPO_ROOT, RUN_MANIFEST


def pick_precision(requested: str, device: str) -> str:
    import torch

    if requested != "auto":
        if requested in ("fp16", "bf16") and not on_gpu(device):
            raise ValueError(f"precision {requested} needs a GPU; this run is on {device}")
        return requested
    if not on_gpu(device):
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def _complete(checkpoint: Path) -> bool:
    """The trainer writes trainer_state.json last, in place: a save cut short has none, or a torn one."""
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, not UTF-8, not JSON
        return False
    return isinstance(state, dict) and "global_step" in state


def latest_checkpoint(checkpoints: Path) -> str | None:
    """The newest complete checkpoint; incomplete ones (a save cut short by a crash) are skipped."""
    found = sorted(
        (p for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and _complete(p)),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    return str(found[-1]) if found else None


def gpu_stats() -> dict:
    """Utilisation and memory of GPU 0 via NVML; empty without a GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        util = pynvml.nvmlDeviceGetUtilizationRates(handle)
        mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
        return {
            "gpu_util_percent": util.gpu,
            "gpu_memory_used_mb": round(mem.used / 2**20),
            "gpu_memory_total_mb": round(mem.total / 2**20),
        }
    except Exception:  # noqa: BLE001 - no NVML, no GPU (whatever it raises): nothing to report
        return {}


def _wer_metric(tokenizer):
    import jiwer
    import numpy as np

    from whisper_pipeline.text.normalize import normalize_for_eval

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def compute(pred) -> dict:
        # the trainer pads across batches with -100, in labels and in generated tokens alike
        labels = np.where(pred.label_ids == -100, pad, pred.label_ids)
        hyps = tokenizer.batch_decode(
            np.where(pred.predictions == -100, pad, pred.predictions), skip_special_tokens=True
        )
        refs = tokenizer.batch_decode(labels, skip_special_tokens=True)
        pairs = [(normalize_for_eval(r), normalize_for_eval(h)) for r, h in zip(refs, hyps) if normalize_for_eval(r)]
        if not pairs:
            return {"wer": 1.0}
        return {"wer": round(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]), 4)}

    return compute


class ForwardLogs(TrainerCallback):
    """Every log line, with throughput and GPU figures, into ``history`` and to ``on_log`` (JSON log, Dagster).

    ``samples_per_step``: samples one optimizer step consumes on one device (batch size × accumulation)."""

    def __init__(
        self,
        samples_per_step: int,
        device: str,
        history: list[dict],
        on_log: Callable[[dict], None] | None = None,
    ):
        self.samples_per_step = samples_per_step
        self.device = device
        self.history = history
        self.forward = on_log
        self.last = (time.time(), 0)

    def on_log(self, args, state, control, logs=None, **kwargs):
        now, step = time.time(), state.global_step
        samples = (step - self.last[1]) * self.samples_per_step
        entry = {"step": step, "epoch": state.epoch, **(logs or {})}
        if samples > 0 and "loss" in entry:
            entry["samples_per_second"] = round(samples / max(now - self.last[0], 1e-9), 3)
            self.last = (now, step)
        entry.update(gpu_stats() if on_gpu(self.device) else {})
        self.history.append(entry)
        if self.forward:
            self.forward(entry)


class MultilingualTrainer(Seq2SeqTrainer):
    """Decodes each evaluation sample with its own language (read from its labels with
    ``language_tokenizer``), not a detected one. With ``log_mel``, batches that carry audio
    (``input_audio``) get their features computed on the training device as they arrive, for training
    and evaluation alike (every batch passes through ``_prepare_inputs`` on its way to the model)."""

    def __init__(self, *args, language_tokenizer, log_mel: LogMel | None = None, **kwargs):
        self.language_tokenizer = language_tokenizer
        self.log_mel = log_mel
        super().__init__(*args, **kwargs)

    def _prepare_inputs(self, inputs):
        inputs = super()._prepare_inputs(inputs)
        if "input_audio" in inputs:
            if self.log_mel is None:
                raise ValueError("a batch of audio (input_audio) reached a trainer without a log_mel transform")
            audio = inputs.pop("input_audio")
            self.log_mel = self.log_mel.to(audio.device)
            inputs["input_features"] = self.log_mel(audio)
        return inputs

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        if self.args.predict_with_generate and not prediction_loss_only and "labels" in inputs:
            ids = inputs["labels"][:, 0].tolist()
            codes = [self.language_tokenizer.convert_ids_to_tokens(i).strip("<|>") for i in ids]
            gen_kwargs = {**getattr(self, "_gen_kwargs", {}), **gen_kwargs, "language": codes, "task": "transcribe"}
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs)


def train_whisper(
    base_model: str,
    train_rows: list[ManifestLine],
    validation_rows: list[ManifestLine],
    run_dir: str | Path,
    settings: TrainSettings,
    on_log: Callable[[dict], None] | None = None,
    device: str | None = None,
    extra_callbacks: list | None = None,
) -> dict:
    """Train, save model + processor + generation config into ``run_dir``; return the run summary."""
    from transformers import (
        EarlyStoppingCallback,
        Seq2SeqTrainingArguments,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    if not train_rows:
        raise ValueError("no training samples: the train split is empty for every language")
    run_dir = Path(run_dir)
    device = training_device(device)
    precision = pick_precision(settings.precision, device)
    processor = WhisperProcessor.from_pretrained(base_model)
    model = WhisperForConditionalGeneration.from_pretrained(
        base_model, attn_implementation=settings.attn_implementation
    )
    model.generation_config.forced_decoder_ids = None
    model.config.forced_decoder_ids = None
    model.config.apply_spec_augment = settings.spec_augment
    model.config.mask_time_prob = settings.mask_time_prob
    model.config.mask_feature_prob = settings.mask_feature_prob
    if settings.freeze_encoder:
        model.freeze_encoder()
    if settings.gradient_checkpointing:
        model.config.use_cache = False
    max_labels = model.config.max_target_positions
    augmenter = None
    if settings.augment:
        from whisper_pipeline.audio.augment import Augmenter, BabblePool, load_augment_config

        path = Path(settings.augment_config)
        config = load_augment_config(path if path.is_absolute() else REPO_ROOT / path)
        augmenter = Augmenter(config, BabblePool.from_lines(train_rows))
    features = resolve_feature_device(settings.feature_device, device)
    train_ds, dropped_train = make_dataset(train_rows, processor, max_labels, augmenter, features)
    val_ds, dropped_val = (
        make_dataset(validation_rows, processor, max_labels, features=features) if validation_rows else (None, [])
    )

    steps_per_epoch = math.ceil(len(train_ds) / (settings.batch_size * settings.gradient_accumulation_steps))
    total_steps = settings.max_steps if settings.max_steps > 0 else math.ceil(steps_per_epoch * settings.epochs)
    every = settings.eval_steps if settings.eval_steps > 0 else max(1, min(steps_per_epoch, total_steps))
    evaluate = val_ds is not None
    held = checkpoints_held(settings.save_total_limit, math.ceil(total_steps / every))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    need = run_bytes(model.num_parameters(), held, trainable=trainable, ct2_export=settings.ct2_export)
    check_room_for_run(run_dir, need)
    args = Seq2SeqTrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        gradient_checkpointing=settings.gradient_checkpointing,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler_type,
        weight_decay=settings.weight_decay,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        warmup_steps=int(total_steps * settings.warmup_ratio),
        logging_steps=settings.logging_steps,
        save_strategy="steps",
        save_steps=every,
        save_total_limit=settings.save_total_limit,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=every if evaluate else None,
        predict_with_generate=settings.predict_with_generate and evaluate,
        generation_max_length=settings.generation_max_length,
        load_best_model_at_end=evaluate,
        metric_for_best_model="wer" if evaluate and settings.predict_with_generate else "loss",
        greater_is_better=False,
        train_sampling_strategy="group_by_length" if settings.group_by_length else "random",
        length_column_name="length",
        report_to=["tensorboard"],
        remove_unused_columns=False,
        dataloader_num_workers=settings.dataloader_workers
        if settings.dataloader_workers >= 0
        else (4 if on_gpu(device) else 0),
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        optim="adamw_torch_fused",  # one kernel for all parameters (CUDA and CPU); transformers' default on torch ≥ 2.8
        torch_compile=settings.torch_compile,
        seed=settings.seed,
        use_cpu=device == "cpu",
        dataloader_pin_memory=on_gpu(device),
        disable_tqdm=False,
    )
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "tensorboard")  # transformers 5 reads it from here
    history: list[dict] = []

    forward_logs = ForwardLogs(settings.batch_size * settings.gradient_accumulation_steps, device, history, on_log)
    callbacks = [forward_logs, *(extra_callbacks or [])]
    if settings.artifact_url:
        from whisper_pipeline.training.artifacts import checkpoint_uploader

        callbacks.append(checkpoint_uploader(f"{settings.artifact_url.rstrip('/')}/{settings.run_name}", run_dir))
    if evaluate and settings.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience))
    collator = SpeechSeq2SeqCollator(
        processor.tokenizer.pad_token_id, model.config.decoder_start_token_id, processor.feature_extractor.n_samples
    )
    trainer = MultilingualTrainer(
        language_tokenizer=processor.tokenizer,
        log_mel=LogMel.from_feature_extractor(processor.feature_extractor) if features == "device" else None,
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=collator,
        processing_class=processor.feature_extractor,
        callbacks=callbacks,
        compute_metrics=_wer_metric(processor.tokenizer) if evaluate and settings.predict_with_generate else None,
    )
    resume_from = latest_checkpoint(run_dir / "checkpoints")
    started = time.time()
    output = trainer.train(resume_from_checkpoint=resume_from)
    wall = time.time() - started
    eval_metrics = trainer.evaluate() if evaluate else {}

    model = trainer.model
    model.generation_config.forced_decoder_ids = None
    model.generation_config.task = "transcribe"
    languages = sorted({r.language for r in train_rows})
    if len(languages) == 1:  # a one-language model decodes that language by default
        model.generation_config.language = languages[0]
    trainer.save_model(str(run_dir))
    processor.save_pretrained(str(run_dir))
    model.generation_config.save_pretrained(str(run_dir))
    last_loss = next((h["loss"] for h in reversed(history) if "loss" in h), None)
    return {
        "base_model": base_model,
        "device": device,
        "precision": precision,
        "features": features,
        "settings": asdict(settings),
        "train_samples": len(train_ds),
        "validation_samples": len(val_ds) if val_ds is not None else 0,
        "dropped_too_long_labels": dropped_train + dropped_val,
        "languages": languages,
        "global_step": output.global_step,
        "train_loss": output.training_loss,
        "last_logged_loss": last_loss,
        "validation_loss": eval_metrics.get("eval_loss"),
        "validation_wer": eval_metrics.get("eval_wer"),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "resumed_from": resume_from,
        "wall_time_s": round(wall, 1),
        "history": history,
    }


def load_run_summary(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / RUN_MANIFEST).read_text())
