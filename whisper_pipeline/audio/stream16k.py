"""A file decoded once, block by block, to 16 kHz mono float32, and held in bounded memory.

Preprocessing decodes at the file's own rate (PyAV: libswresample's ``-ac 1`` downmix, nothing else) and
resamples with soxr's streaming resampler at very high quality: the same samples as decoding the whole
file with the ffmpeg CLI and ``soxr.resample`` on it, without an ``ffprobe`` and an ``ffmpeg`` process per
file and without an hour of audio in memory. ``SampleStore`` keeps the first minutes in memory and the rest
in an unnamed temporary file next to the output, so reading back the edges of a long file costs no RAM.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, decode_cli, probe
from whisper_pipeline.audio.in_process import AvDecoder

MEMORY_S = 120.0  # a file longer than this spills to disk
BLOCK = 4 * SAMPLE_RATE


def blocks_16k(path: str | Path) -> Iterator[np.ndarray]:
    """16 kHz mono float32 blocks decoded in this process; raises ``InProcessUnreadable`` (possibly after
    some blocks) where the ffmpeg CLI must decide (``blocks_16k_ffmpeg``)."""
    import soxr

    with AvDecoder(path, rate=None) as decoder:
        rate = decoder.rate
        if rate == SAMPLE_RATE:
            yield from decoder.chunks(BLOCK)
            return
        stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="VHQ")
        for block in decoder.chunks(BLOCK * rate // SAMPLE_RATE):
            out = stream.resample_chunk(block, last=False)
            if out.size:
                yield out
        out = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if out.size:
            yield out


def load_16k_ffmpeg(path: str | Path) -> np.ndarray:
    """Decode at the file's own rate with the ffmpeg CLI (which downmixes to mono), then resample with soxr
    (very high quality): the path before in-process decoding, kept as the fallback and the benches' baseline;
    its errors (``AudioError``) name the file and the problem."""
    import soxr

    rate = probe(path).sample_rate or SAMPLE_RATE
    audio = decode_cli(path, rate)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="VHQ").astype(np.float32)
    return audio


class SampleStore:
    """Samples appended block by block; in memory up to ``memory_samples``, beyond that in an unnamed
    temporary file in ``directory`` (gone when closed, even if the process dies)."""

    def __init__(self, directory: str | Path | None = None, memory_samples: int | None = None):
        self.directory = directory
        self.memory_samples = int(MEMORY_S * SAMPLE_RATE) if memory_samples is None else memory_samples
        self.size = 0
        self._memory = np.zeros(0, dtype=np.float32)
        self._file = None

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self._file is None and self.size + block.size > self.memory_samples:
            if self.directory is not None:
                Path(self.directory).mkdir(parents=True, exist_ok=True)
            self._file = tempfile.TemporaryFile(dir=self.directory)
            self._file.write(self._memory[: self.size].tobytes())
            self._memory = np.zeros(0, dtype=np.float32)
        if self._file is not None:
            self._file.write(block.tobytes())
        else:
            if self.size + block.size > self._memory.size:
                grown = np.zeros(max(2 * self._memory.size, self.size + block.size), dtype=np.float32)
                grown[: self.size] = self._memory[: self.size]
                self._memory = grown
            self._memory[self.size : self.size + block.size] = block
        self.size += block.size

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``lo:hi`` (clamped to what is stored)."""
        lo, hi = max(0, lo), min(hi, self.size)
        if hi <= lo:
            return np.zeros(0, dtype=np.float32)
        if self._file is None:
            return self._memory[lo:hi]
        self._file.flush()
        data = os.pread(self._file.fileno(), 4 * (hi - lo), 4 * lo)
        return np.frombuffer(data, dtype=np.float32)

    def blocks(self, lo: int, hi: int, size: int = 30 * SAMPLE_RATE) -> Iterator[np.ndarray]:
        for start in range(lo, hi, size):
            yield self.read(start, min(hi, start + size))

    def clear(self) -> None:
        self.close()
        self.size, self._memory = 0, np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
