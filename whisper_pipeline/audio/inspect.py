"""Check one audio file: can it be decoded in full, how long is it, what is it."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from whisper_pipeline.audio.ffmpeg import (
    SAMPLE_RATE,
    AudioError,
    decode_reporting_errors,
    probe,
    wav_declared_frames_missing,
)
from whisper_pipeline.audio.fingerprint import fingerprint, to_hex

MIN_DURATION_S = 0.2
SILENCE_DBFS = -45.0  # a 25 ms frame quieter than this counts as silence
MIN_ACTIVE_FRACTION = 0.1  # below this the file is "mostly silence"
CLIP_LEVEL = 0.999
MAX_CLIPPED_FRACTION = 0.001  # above this the file is flagged "clipping" (kept, but flagged)
MAX_TRAIN_DURATION_S = 30.0  # Whisper's input window; longer files are segmented after alignment.
MAX_SOURCE_DURATION_S = 4 * 3600.0  # longer than this is refused (split it before uploading)
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
    active_fraction: float = 0.0
    clipped_fraction: float = 0.0
    peak_dbfs: float | None = None
    flags: list[str] = field(default_factory=list)
    fingerprint: str = ""
    snr_db: float | None = None

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
    if audio.size:
        _analyse_signal(audio, result)
    if result.status == "ok" and result.peak_dbfs is not None and result.peak_dbfs < SILENCE_DBFS:
        result.status, result.detail = "silent", f"peak {result.peak_dbfs:.0f} dBFS"
    elif result.status == "ok" and result.active_fraction < MIN_ACTIVE_FRACTION:
        result.status, result.detail = (
            "mostly_silence",
            f"{result.active_fraction:.0%} of frames above {SILENCE_DBFS:.0f} dBFS",
        )
    if result.status == "ok" and result.duration_s < MIN_DURATION_S:
        result.status, result.detail = "too_short", f"{result.duration_s:.2f}s < {MIN_DURATION_S}s"
    elif result.status == "ok" and result.duration_s > MAX_SOURCE_DURATION_S:
        result.status, result.detail = (
            "too_long",
            f"{result.duration_s / 3600:.1f} h > {MAX_SOURCE_DURATION_S / 3600:.0f} h",
        )
    elif result.status == "ok" and result.duration_s > MAX_TRAIN_DURATION_S:
        result.flags.append(
            f"long-form ({result.duration_s:.0f}s): cut into segments of at most "
            f"{MAX_TRAIN_DURATION_S:.0f}s after alignment"
        )
    return result


def _analyse_signal(audio: np.ndarray, result: AudioCheck) -> None:
    """Loudness, silence, clipping and the fingerprint, all from the one decode."""
    peak = float(np.max(np.abs(audio)))
    result.peak_dbfs = round(20 * np.log10(max(peak, 1e-10)), 1)
    frame = SAMPLE_RATE // 40
    n = audio.size // frame
    if n:
        rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
        result.active_fraction = round(float(np.mean(20 * np.log10(np.maximum(rms, 1e-10)) > SILENCE_DBFS)), 4)
    result.clipped_fraction = round(float(np.mean(np.abs(audio) >= CLIP_LEVEL)), 5)
    if result.clipped_fraction > MAX_CLIPPED_FRACTION:
        result.flags.append(f"clipping ({result.clipped_fraction:.2%} of samples at full scale)")
    result.fingerprint = to_hex(fingerprint(audio))
    result.snr_db = estimate_snr_db(audio)


SNR_CAP_DB = 60.0


def estimate_snr_db(audio: np.ndarray, frame: int = SAMPLE_RATE // 50) -> float | None:
    """A blind signal-to-noise estimate from the spread of 20 ms frame powers.

    The quietest frames (5th percentile) stand for the noise floor, the louder half for speech;
    SNR = (speech power − noise power) / noise power. Good enough to bucket a corpus by noise
    level (clean studio vs street recordings), not a lab measurement: with no pause in the clip
    it underestimates. Digital silence is capped at ``SNR_CAP_DB``.
    """
    n = audio.size // frame
    if n < 10:
        return None
    power = np.mean(audio[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1)
    noise = float(np.percentile(power, 5))
    loud = power[power >= np.percentile(power, 50)]
    speech = float(np.mean(loud)) - noise
    if speech <= 0:
        return 0.0
    if noise <= speech * 10 ** (-SNR_CAP_DB / 10):
        return SNR_CAP_DB
    return round(10 * np.log10(speech / noise), 1)
