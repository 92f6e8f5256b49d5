"""Loudness measured block by block equals pyloudnorm's measure of the whole signal."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_pipeline.audio.loudness import integrated_loudness


@pytest.mark.parametrize("seconds", [0.4, 0.47, 3.3, 61.05])
def test_block_by_block_equals_pyloudnorm(seconds):
    import pyloudnorm

    rng = np.random.default_rng(int(seconds * 100))
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    # speech-like: bursts of tone and noise over a quiet floor, some near-silent stretches
    envelope = (np.sin(2 * np.pi * 0.7 * t) > 0.3) * 0.3 + 0.001
    audio = (envelope * (np.sin(2 * np.pi * 220 * t) + 0.3 * rng.standard_normal(n))).astype(np.float32)
    expected = pyloudnorm.Meter(16000).integrated_loudness(audio.astype(np.float64))
    for parts in (1, 3, 17):
        assert integrated_loudness(np.array_split(audio, parts), 16000) == pytest.approx(expected, abs=1e-9)


def test_silence_is_minus_infinity_as_in_pyloudnorm():
    assert integrated_loudness([np.zeros(16000, dtype=np.float32)], 16000) == -np.inf
