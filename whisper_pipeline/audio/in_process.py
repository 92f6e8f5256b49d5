"""Lossless audio (WAV, FLAC, AIFF…) decoded in this process with libsndfile and resampled with soxr.

An ``ffmpeg`` subprocess costs ~0.05–0.1 s to start, which is a noticeable share of a short request to
the transcription service. For lossless formats libsndfile gives exactly the samples ffmpeg would, so
they are decoded here; anything else (compressed formats, video containers, cut-off or odd files) is
left to ffmpeg, whose error messages name the problem — ``decode_lossless`` then answers ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, wav_declared_frames_missing

# libsndfile's major formats whose samples are stored exactly (no codec for it to differ from ffmpeg on)
LOSSLESS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF", "CAF"})


def lossless_duration(path: str | Path) -> float | None:
    """Seconds of audio in a lossless file, from its header (its samples need no decoder that could fail),
    or ``None`` when ``decode_lossless`` would not take the file."""
    import soundfile as sf

    try:
        if wav_declared_frames_missing(path):
            return None
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError):
        return None
    if info.format not in LOSSLESS or info.samplerate <= 0 or info.channels > 2:
        return None
    return info.frames / info.samplerate


def decode_lossless(
    source: str | Path | BinaryIO, max_seconds: float | None = None, sample_rate: int = SAMPLE_RATE
) -> np.ndarray | None:
    """Mono float32 at ``sample_rate`` (mono or stereo, downmixed as ``ffmpeg -ac 1`` does), at most
    ``max_seconds`` of it; ``None`` when ``source`` (a path or a seekable binary file) is not a lossless
    format libsndfile reads whole — the caller then decodes with ffmpeg."""
    import soundfile as sf
    import soxr

    start = source.tell() if not isinstance(source, (str, Path)) else 0
    try:
        if isinstance(source, (str, Path)) and wav_declared_frames_missing(source):
            return None  # a cut-off copy: ffmpeg reads what is there and says what is missing
        with sf.SoundFile(source) as f:
            if f.format not in LOSSLESS or f.samplerate <= 0 or f.channels > 2:
                return None  # more channels: ffmpeg's downmix matrices
            frames = -1 if max_seconds is None else min(f.frames, int(np.ceil(max_seconds * f.samplerate)))
            data = f.read(frames, dtype="float32", always_2d=True)
            rate = f.samplerate
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError):
        return None
    finally:
        if not isinstance(source, (str, Path)):
            source.seek(start)
    # ffmpeg -ac 1 mixes each channel of a stereo pair at -3 dB; the same here, so both paths agree
    mono = (data[:, 0] + data[:, 1]) * np.float32(np.sqrt(0.5)) if data.shape[1] == 2 else data[:, 0]
    if rate != sample_rate and mono.size:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)
