"""Check one audio file: can it be decoded in full, how long is it, what is it."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from whisper_pipeline.audio.ffmpeg import (
    SAMPLE_RATE,
    AudioError,
    decode_reporting_errors,
    probe,
    wav_declared_frames_missing,
)

MIN_DURATION_S = 0.2
MAX_TRAIN_DURATION_S = 30.0  # Whisper's input window; longer files need segmenting first.
TRUNCATION_TOLERANCE = 0.9  # decoded/declared duration below this means the file was cut off


@dataclass
class AudioCheck:
    path: str
    size_bytes: int
    sha256: str
    status: str  # "ok" or a reason: empty, undecodable, truncated, too_short, too_long
    detail: str = ""
    duration_s: float = 0.0
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None

    @property
    def usable(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict:
        return asdict(self)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_audio(path: str | Path) -> AudioCheck:
    """Decode the whole file and classify it; never raises for bad audio, only reports."""
    path = Path(path)
    size = path.stat().st_size
    result = AudioCheck(path=str(path), size_bytes=size, sha256=sha256_file(path), status="ok")
    try:
        info = probe(path)
        result.sample_rate, result.channels, result.codec = info.sample_rate, info.channels, info.codec
        audio, decoder_errors = decode_reporting_errors(path)
    except AudioError as exc:
        result.status, result.detail = exc.reason, exc.detail
        return result
    result.duration_s = round(audio.size / SAMPLE_RATE, 3)
    declared = info.declared_duration
    if audio.size == 0:
        result.status, result.detail = "empty", "no audio samples"
    elif wav_declared_frames_missing(path):
        result.status, result.detail = "truncated", "WAV header promises more data than the file holds"
    elif declared and result.duration_s < TRUNCATION_TOLERANCE * declared:
        result.status = "truncated"
        result.detail = f"decoded {result.duration_s:.2f}s of {declared:.2f}s declared"
    elif decoder_errors:
        result.status, result.detail = "truncated", decoder_errors.splitlines()[0]
    if result.status == "ok" and result.duration_s < MIN_DURATION_S:
        result.status, result.detail = "too_short", f"{result.duration_s:.2f}s < {MIN_DURATION_S}s"
    elif result.status == "ok" and result.duration_s > MAX_TRAIN_DURATION_S:
        result.status, result.detail = "too_long", f"{result.duration_s:.1f}s > {MAX_TRAIN_DURATION_S:.0f}s (needs segmenting)"
    return result
