"""The disk a training run writes, checked before its first step: a disk that fills at a checkpoint save hours
into a run kills the trainer mid-write, and the hours are lost. The same figures plan storage in PLANNING.md."""

from __future__ import annotations

import shutil
from pathlib import Path

# Bytes per parameter: weights in fp32 (the trainer keeps fp32 master weights; whisper-base's model.safetensors
# is 290,403,936 B for 72,593,920 parameters), AdamW's two fp32 moments in each checkpoint, int8 CTranslate2.
WEIGHT_BYTES, ADAMW_BYTES, CT2_BYTES = 4, 8, 1
# What a run writes besides tensors: tokenizer and processor files in the final model (~3 MB for Whisper's
# multilingual tokenizer), a card, TensorBoard events, each checkpoint's scheduler, RNG and trainer state.
OVERHEAD_BYTES = 64 * 2**20


def checkpoint_bytes(params: int, trainable: int | None = None) -> int:
    """One trainer checkpoint: the weights and AdamW's state of the parameters it trains."""
    return params * WEIGHT_BYTES + (params if trainable is None else trainable) * ADAMW_BYTES


def checkpoints_held(save_total_limit: int, saves: int) -> int:
    """The most checkpoints a run holds at once: ``save_total_limit`` plus the best one (the trainer writes a new
    checkpoint before it deletes the oldest), never more than it saves; every one it saves when the limit is 0 or
    less (the trainer's "no limit")."""
    return saves if save_total_limit <= 0 else min(save_total_limit + 1, saves)


def run_bytes(params: int, checkpoints: int, *, trainable: int | None = None, ct2_export: bool = False) -> int:
    """The most a run holds on disk: ``checkpoints`` (``checkpoints_held``), the final model and its CTranslate2
    copy."""
    final = params * (WEIGHT_BYTES + (CT2_BYTES if ct2_export else 0))
    return checkpoints * checkpoint_bytes(params, trainable) + final + OVERHEAD_BYTES


def bytes_under(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


class NotEnoughDisk(OSError):
    """Raised before training starts, not at the first checkpoint save."""


def check_room_for_run(run_dir: Path, need: int) -> None:
    """Fail now if the disk under ``run_dir`` cannot take ``need`` bytes more than the run already holds there
    (a resumed run's checkpoints are part of what it keeps)."""
    existing = next(p for p in (run_dir, *run_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    more = max(0, need - bytes_under(run_dir))
    if more > free:
        gb = 1e9
        raise NotEnoughDisk(
            f"{run_dir}: this run needs about {need / gb:.1f} GB on disk (checkpoints with optimizer state, the "
            f"final model) and {more / gb:.1f} GB more than it holds now, but only {free / gb:.1f} GB is free. "
            "Free some space, lower save_total_limit, or put the workspace on a larger disk."
        )
