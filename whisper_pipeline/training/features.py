"""Whisper's log-mel features in torch, a batch at a time, on whatever device the model trains on.

``WhisperFeatureExtractor`` costs ~20 ms of CPU per 30 s window (43–49 samples/s per core measured), so loader
workers computing it cap what a GPU can be fed. Here the loader only reads audio, the collator pads it to 30 s,
and this module turns the batch into features on the training device in one STFT. It reproduces the extractor
step for step (Hann window, n_fft 400, hop 160, |STFT|² without the last frame, its Slaney mel filters, log10 of
at least 1e-10, floor at the example's own maximum − 8, (x + 4) / 4, zero-padding or truncation to 30 s), so a
model trained on either path sees the same input within float rounding (tested against the extractor).
"""

from __future__ import annotations

import numpy as np
import torch

from whisper_pipeline.device import on_gpu

FEATURE_DEVICES = ("auto", "device", "loader")


def resolve_feature_device(requested: str, device: str) -> str:
    """``device`` (features in the training step) or ``loader`` (in the loader workers, the extractor).

    ``auto`` = on the device when training on a GPU; on CPU the same cores would do the same work either way, and
    the loader path keeps the CPU demo's numbers exactly as they were."""
    if requested not in FEATURE_DEVICES:
        raise ValueError(f"feature_device {requested!r}: use one of {', '.join(FEATURE_DEVICES)}")
    if requested == "auto":
        return "device" if on_gpu(device) else "loader"
    return requested


def pad_or_trim(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """One clip as the extractor sees it: zero-padded at the end, or cut, to exactly ``n_samples``."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (one dimension), got shape {audio.shape}")
    if len(audio) >= n_samples:
        return audio[:n_samples]
    return np.pad(audio, (0, n_samples - len(audio)))


class LogMel(torch.nn.Module):
    """``(batch, samples)`` 16 kHz audio → ``(batch, n_mels, n_samples // hop)`` features, as the extractor makes them.

    Always computed in float32 with autocast off (a bf16 mel matmul would round the features) and without
    gradients. The "max − 8" dynamic-range floor is taken per example, as the extractor does, so a batch gives
    each clip the features it gets alone."""

    def __init__(self, mel_filters: np.ndarray, n_fft: int = 400, hop_length: int = 160, n_samples: int = 480000):
        super().__init__()
        self.n_fft, self.hop_length, self.n_samples = n_fft, hop_length, n_samples
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        # the extractor's filters are (n_freq, n_mels); keep (n_mels, n_freq) for filters @ power
        filters = torch.from_numpy(np.ascontiguousarray(np.asarray(mel_filters, dtype=np.float32).T))
        self.register_buffer("filters", filters, persistent=False)

    @classmethod
    def from_feature_extractor(cls, extractor) -> LogMel:
        """The same transform as a ``WhisperFeatureExtractor`` (80 or 128 mel bins, its window length)."""
        if getattr(extractor, "dither", 0.0):
            raise ValueError(f"feature extractor dither={extractor.dither}: on-device features support dither 0 only")
        return cls(extractor.mel_filters, extractor.n_fft, extractor.hop_length, extractor.n_samples)

    @property
    def n_mels(self) -> int:
        return self.filters.shape[0]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() != 2:
            raise ValueError(f"expected a (batch, samples) tensor of audio, got shape {tuple(audio.shape)}")
        if audio.shape[1] != self.n_samples:
            audio = torch.nn.functional.pad(audio, (0, max(0, self.n_samples - audio.shape[1])))[:, : self.n_samples]
        with torch.no_grad(), torch.autocast(device_type=audio.device.type, enabled=False):
            stft = torch.stft(
                audio.float(), self.n_fft, self.hop_length, window=self.window, return_complex=True
            )  # center=True, reflect padding: the extractor's framing
            power = (stft[..., :-1].abs() ** 2).contiguous()
            log_spec = torch.clamp(self.filters @ power, min=1e-10).log10()
            floor = log_spec.amax(dim=(-2, -1), keepdim=True) - 8.0  # per example
            return (torch.maximum(log_spec, floor) + 4.0) / 4.0
