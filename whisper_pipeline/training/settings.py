"""Every knob of a training run, in one place, with the reason for its default.

The Dagster ``checkpoint`` config is generated from this dataclass (``assets/checkpoint.py``), and
the presets in ``configs/train/`` set its fields, so there is one list of settings, not two.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from whisper_pipeline.workspace import LANGUAGES


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainSettings:
    run_name: str = _f("run1", "models/whisper/<run_name>/; the same name resumes a crashed run")
    languages: list[str] = field(
        default_factory=lambda: list(LANGUAGES), metadata={"help": "Language partitions to train on"}
    )
    epochs: float = _f(3.0, "Passes over the training set (max_steps > 0 overrides)")
    max_steps: int = _f(-1, "> 0: stop after this many optimizer steps")
    learning_rate: float = _f(3e-5, "Peak learning rate (full fine-tune of base: 1e-5 to 5e-5)")
    lr_scheduler_type: str = _f("linear", "linear, cosine, constant_with_warmup, …")
    warmup_ratio: float = _f(0.1, "Share of steps spent warming up the learning rate")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    batch_size: int = _f(8, "Per-device batch size")
    gradient_accumulation_steps: int = _f(1, "Effective batch = batch_size × this × devices")
    precision: str = _f("auto", "auto (bf16 on GPUs that have it, else fp16 on GPU, fp32 on CPU), fp32, fp16, bf16")
    gradient_checkpointing: bool = _f(False, "Trade compute for memory (large models, long batches)")
    freeze_encoder: bool = _f(False, "Train the decoder only (cheap, but the acoustic mismatch lives in the encoder)")
    spec_augment: bool = _f(True, "SpecAugment time/feature masking during training")
    mask_time_prob: float = _f(0.05, "SpecAugment: share of time steps masked")
    mask_feature_prob: float = _f(0.0, "SpecAugment: share of mel channels masked")
    augment: bool = _f(False, "Waveform augmentation on the fly from augment_config")
    augment_config: str = _f("configs/augment.yaml", "Augmentation YAML (relative to the repo or absolute)")
    eval_steps: int = _f(0, "Evaluate (and checkpoint) every N steps; 0 = once per epoch")
    predict_with_generate: bool = _f(True, "Evaluate by decoding and scoring WER (else loss only)")
    generation_max_length: int = _f(225, "Longest decoded text at evaluation, in tokens")
    early_stopping_patience: int = _f(0, "Stop after N evaluations without a better WER; 0 = off")
    save_total_limit: int = _f(2, "Checkpoints kept (the best one is always kept too)")
    group_by_length: bool = _f(
        False,
        "Batch similar label lengths together (features are fixed 30 s windows, so it only saves decoder padding)",
    )
    dataloader_workers: int = _f(
        -1,
        "Loader processes reading (and augmenting) audio while the model trains, and computing its features when "
        "feature_device is loader; -1 = auto (4 on GPU, 0 on CPU, where the cores are busy training)",
    )
    feature_device: str = _f(
        "auto",
        "Where log-mel features are computed: device (in the training step, a batch at a time: the loader only "
        "reads audio), loader (WhisperFeatureExtractor in the loader workers), auto (device on a GPU, loader on CPU)",
    )
    attn_implementation: str = _f("sdpa", "Attention kernel: sdpa (PyTorch's fused attention), eager")
    torch_compile: bool = _f(
        False, "torch.compile the model (GPU; the first steps are slower while it compiles, later ones faster)"
    )
    logging_steps: int = _f(5, "Log loss, learning rate, grad norm, samples/s every N steps")
    seed: int = _f(42, "Data order, initialisation of new weights, dropout")
    ct2_export: bool = _f(False, "Also export a CTranslate2 (faster-whisper) copy, int8, under ct2/")
    artifact_url: str = _f(
        "",
        "Also copy each checkpoint and the final model here via fsspec (s3://bucket/prefix, "
        "gs://…); credentials and endpoint from the environment; empty = local only",
    )
    sweep_study: str = _f(
        "",
        "Take learning rate, batch size, weight decay, warmup and accumulation from this "
        "sweep's best trial (manifests/sweep_<study>_best.json)",
    )
    num_processes: int = _f(1, "Processes for accelerate launch: one per GPU for multi-GPU")
    pseudo_labels: bool = _f(
        False,
        "Also train on the review queue's confident drafts of transcript-less audio (marked pseudo_label in "
        "the manifests, counted in the run manifest)",
    )
    pseudo_label_min_score: float = _f(0.8, "Pseudo-labels: the lowest review-queue confidence score used (0 to 1)")

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}

    @classmethod
    def from_dict(cls, data: dict) -> TrainSettings:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown training setting(s): {sorted(unknown)}")
        return cls(**data)
