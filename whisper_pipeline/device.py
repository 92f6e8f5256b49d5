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
