"""Which torch device heavy work runs on: one meaning of ``auto`` for the assets, training and the service."""

from __future__ import annotations

import os

DEVICE_ENV_VAR = "WHISPER_PIPELINE_DEVICE"


def configured_device() -> str:
    """What ``$WHISPER_PIPELINE_DEVICE`` asks for; ``auto`` when unset."""
    return os.environ.get(DEVICE_ENV_VAR) or "auto"


def pick_device(requested: str | None = "auto") -> str:
    """``auto`` (or nothing) → CUDA when a GPU is visible, else CPU; ``cpu``, ``cuda`` or ``cuda:N`` as asked."""
    if requested and requested != "auto":
        if requested != "cpu" and requested != "cuda" and not requested.startswith("cuda:"):
            raise ValueError(f"device {requested!r}: use auto, cpu, cuda or cuda:N")
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def on_gpu(device: str | None) -> bool:
    """Whether a picked device is a GPU: ``cuda`` or ``cuda:N`` (everything that chooses fp16/bf16, pinned memory,
    loader workers or a Ray GPU asks this, so ``cuda:1`` is not run as a CPU)."""
    return bool(device) and (device == "cuda" or device.startswith("cuda:"))


def training_device(requested: str | None = "auto") -> str:
    """The device a training run asks for, as the trainer takes it: ``cpu`` or ``cuda``. The trainer (accelerate)
    runs on the visible GPUs and has no ``cuda:N``: ``cuda:0`` is ``cuda``, another index is refused with how to
    choose that GPU."""
    device = pick_device(requested)
    if device.startswith("cuda:"):
        index = device.split(":", 1)[1]
        if not index.isdigit():
            raise ValueError(f"device {device!r}: use auto, cpu, cuda or cuda:N")
        if int(index) != 0:
            raise ValueError(
                f"training on {device}: the trainer runs on the first GPU this process sees (all of them when "
                f"launched for several); make GPU {index} the one it sees with CUDA_VISIBLE_DEVICES and use device cuda"
            )
        return "cuda"
    return device
