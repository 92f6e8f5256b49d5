"""Check one audio file: can it be decoded in full, how long is it, what is it (one pass, in process)."""

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
from whisper_pipeline.audio.fingerprint import MAX_SECONDS, fingerprint, to_hex
from whisper_pipeline.audio.in_process import AvDecoder, HashingReader, InProcessUnreadable

MIN_DURATION_S = 0.2
SILENCE_DBFS = -45.0  # a 25 ms frame quieter than this counts as silence
MIN_ACTIVE_FRACTION = 0.1  # below this the file is "mostly silence"
CLIP_LEVEL = 0.999
MAX_CLIPPED_FRACTION = 0.001  # above this the file is flagged "clipping" (kept, but flagged)
MAX_TRAIN_DURATION_S = 30.0  # Whisper's input window; longer files are segmented after alignment.
MAX_SOURCE_DURATION_S = 4 * 3600.0  # longer than this is refused (split it before uploading)
TRUNCATION_TOLERANCE = 0.9  # decoded/declared duration below this means the file was cut off
FINGERPRINT_SAMPLES = MAX_SECONDS * SAMPLE_RATE  # the fingerprint covers the first two minutes


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


def check_audio(path: str | Path, sha256: str | None = None) -> AudioCheck:
    """Decode the whole file and classify it; never raises for bad audio, only reports.

    One pass in this process: the bytes PyAV reads are hashed on the way (unless the caller already knows
    the ``sha256``), and each decoded block is analysed and dropped, so an hour of audio is never held.
    What PyAV cannot read cleanly (no audio stream, a decoder error) is checked by ``check_audio_ffmpeg``,
    the ffmpeg CLI path, whose exit status and messages give the status and detail as they always have."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return AudioCheck(str(path), 0, sha256 or sha256_file(path), "empty", "0 bytes")
    try:
        with open(path, "rb") as raw:
            reader = HashingReader(raw) if sha256 is None else raw
            with AvDecoder(reader, SAMPLE_RATE) as decoder:
                stats = SignalStats()
                for block in decoder.chunks():
                    stats.feed(block)
                info = decoder.facts
            sha256 = sha256 or reader.hexdigest()
    except InProcessUnreadable:
        return check_audio_ffmpeg(path, sha256)
    result = AudioCheck(str(path), size, sha256, "ok", sample_rate=info.sample_rate, channels=info.channels)
    result.codec = info.codec
    _classify(path, result, stats, info.declared_duration, "")
    return result


def check_audio_ffmpeg(path: str | Path, sha256: str | None = None) -> AudioCheck:
    """``check_audio`` with an ``ffprobe`` and an ``ffmpeg`` subprocess (the path before in-process
    decoding, kept for what PyAV cannot read and as the benches' baseline)."""
    path = Path(path)
    size = path.stat().st_size
    result = AudioCheck(path=str(path), size_bytes=size, sha256=sha256 or sha256_file(path), status="ok")
    try:
        info = probe(path)
        result.sample_rate, result.channels, result.codec = info.sample_rate, info.channels, info.codec
        audio, decoder_errors = decode_reporting_errors(path)
    except AudioError as exc:
        result.status, result.detail = exc.reason, exc.detail
        return result
    stats = SignalStats()
    stats.feed(audio)
    _classify(path, result, stats, info.declared_duration, decoder_errors)
    return result


def _classify(path: Path, result: AudioCheck, stats: SignalStats, declared: float | None, decoder_errors: str) -> None:
    """Status, detail, flags and the signal measures from the decoded samples' statistics."""
    result.duration_s = round(stats.samples / SAMPLE_RATE, 3)
    if stats.samples == 0:
        result.status, result.detail = "empty", "no audio samples"
    elif wav_declared_frames_missing(path):
        result.status, result.detail = "truncated", "WAV header promises more data than the file holds"
    elif declared and result.duration_s < TRUNCATION_TOLERANCE * declared:
        result.status = "truncated"
        result.detail = f"decoded {result.duration_s:.2f}s of {declared:.2f}s declared"
    elif decoder_errors:
        result.status, result.detail = "truncated", decoder_errors.splitlines()[0]
    if stats.samples:
        stats.fill(result)
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


ACTIVE_FRAME = SAMPLE_RATE // 40  # 25 ms: the silence measure
SNR_FRAME = SAMPLE_RATE // 50  # 20 ms: the SNR estimate
_BLOCK = 1600  # a whole number of both frames: blocks fed one after another cut no frame in two


class SignalStats:
    """Loudness, silence, clipping, SNR and the fingerprint of a signal fed block by block: the same numbers
    as from the whole array at once (frame by frame on the same grid), holding only per-frame powers and
    the fingerprint's first two minutes."""

    def __init__(self) -> None:
        self.samples = self.clipped = 0
        self.peak = 0.0
        self._rest = np.zeros(0, dtype=np.float32)
        self._active: list[np.ndarray] = []  # per 25 ms frame: above the silence level?
        self._power: list[np.ndarray] = []  # per 20 ms frame: mean power (float64)
        self._head: list[np.ndarray] = []  # the first FINGERPRINT_SAMPLES samples
        self._head_size = 0

    def feed(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        if not block.size:
            return
        self.samples += block.size
        magnitude = np.abs(block)
        self.peak = max(self.peak, float(magnitude.max()))
        self.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
        if self._head_size < FINGERPRINT_SAMPLES:
            self._head.append(block[: FINGERPRINT_SAMPLES - self._head_size])
            self._head_size += self._head[-1].size
        joined = np.concatenate([self._rest, block]) if self._rest.size else block
        whole = joined.size // _BLOCK * _BLOCK
        self._frames(joined[:whole])
        self._rest = joined[whole:].copy()

    def _frames(self, audio: np.ndarray) -> None:
        n = audio.size // ACTIVE_FRAME
        if n:
            rms = np.sqrt(np.mean(audio[: n * ACTIVE_FRAME].reshape(n, ACTIVE_FRAME) ** 2, axis=1))
            self._active.append(20 * np.log10(np.maximum(rms, 1e-10)) > SILENCE_DBFS)
        n = audio.size // SNR_FRAME
        if n:
            self._power.append(frame_powers(audio[: n * SNR_FRAME]))

    def fill(self, result: AudioCheck) -> None:
        """Write the measures into ``result`` (and flag clipping); call once, after the last block."""
        self._frames(self._rest)
        self._rest = np.zeros(0, dtype=np.float32)
        result.peak_dbfs = round(20 * np.log10(max(self.peak, 1e-10)), 1)
        if self._active:
            result.active_fraction = round(float(np.mean(np.concatenate(self._active))), 4)
        result.clipped_fraction = round(self.clipped / self.samples, 5)
        if result.clipped_fraction > MAX_CLIPPED_FRACTION:
            result.flags.append(f"clipping ({result.clipped_fraction:.2%} of samples at full scale)")
        head = np.concatenate(self._head) if self._head else np.zeros(0, dtype=np.float32)
        result.fingerprint = to_hex(fingerprint(head))
        result.snr_db = snr_from_powers(np.concatenate(self._power) if self._power else np.zeros(0))


SNR_CAP_DB = 60.0


def frame_powers(audio: np.ndarray, frame: int = SNR_FRAME) -> np.ndarray:
    """Mean power of each whole ``frame``-sample frame (float64)."""
    n = audio.size // frame
    return np.mean(audio[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1)


def estimate_snr_db(audio: np.ndarray, frame: int = SNR_FRAME) -> float | None:
    """A blind signal-to-noise estimate from the spread of 20 ms frame powers.

    The quietest frames (5th percentile) stand for the noise floor, the louder half for speech;
    SNR = (speech power − noise power) / noise power. Good enough to bucket a corpus by noise
    level (clean studio vs street recordings), not a lab measurement: with no pause in the clip
    it underestimates. Digital silence is capped at ``SNR_CAP_DB``.
    """
    return snr_from_powers(frame_powers(audio, frame))


def snr_from_powers(power: np.ndarray) -> float | None:
    """``estimate_snr_db`` from the frame powers (``frame_powers``)."""
    n = power.size
    if n < 10:
        return None
    noise = float(np.percentile(power, 5))
    loud = power[power >= np.percentile(power, 50)]
    speech = float(np.mean(loud)) - noise
    if speech <= 0:
        return 0.0
    if noise <= speech * 10 ** (-SNR_CAP_DB / 10):
        return SNR_CAP_DB
    return round(10 * np.log10(speech / noise), 1)
