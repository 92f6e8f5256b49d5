"""Audio decoded in this process: lossless files with libsndfile and soxr (the service), anything FFmpeg
reads with PyAV (intake and preprocessing: ``AvDecoder``), the ffmpeg CLI kept as the fallback.

An ``ffmpeg`` subprocess costs ~0.05–0.1 s to start, which is a noticeable share of a short request to
the transcription service. For lossless formats libsndfile gives exactly the samples ffmpeg would, so
they are decoded here; anything else (compressed formats, video containers, cut-off or odd files) is
left to ffmpeg, whose error messages name the problem — ``decode_lossless`` then answers ``None``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, ProbeInfo, default_audio_stream, wav_declared_frames_missing

# libsndfile's major formats whose samples are stored exactly (no codec for it to differ from ffmpeg on)
LOSSLESS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF", "CAF"})
# ...holding plain samples: PCM or float (ADPCM, GSM, µ-law and the like are codecs of their own: left to ffmpeg)
PLAIN_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"})


def _plain(info) -> bool:
    return info.format in LOSSLESS and info.subtype in PLAIN_SUBTYPES and info.samplerate > 0 and info.channels <= 2


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
    if not _plain(info):
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
            if not _plain(f) or f.frames <= 0:
                return None  # more channels: ffmpeg's downmix matrices; no count in the header: ffmpeg reads it
            frames = f.frames if max_seconds is None else min(f.frames, int(np.ceil(max_seconds * f.samplerate)))
            data = f.read(frames, dtype="float32", always_2d=True)
            rate = f.samplerate
        if len(data) < frames:
            return None  # cut off (a FLAC's stream ends before its header's count): ffmpeg says what is missing
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


# sample formats converted in numpy exactly as libswresample converts them to float: the factor, if any
_SCALE = {"flt": None, "s16": 1 / (1 << 15), "s32": 1 / (1 << 31)}
_HALF_POWER = np.float32(np.sqrt(0.5))
# PyAV's own dtypes for ``AudioFrame.to_ndarray`` (little-endian, as FFmpeg's native sample formats are here)
_DTYPES = {"u8": "u1", "s16": "<i2", "s32": "<i4", "s64": "<i8", "flt": "<f4", "dbl": "<f8"}


class InProcessUnreadable(Exception):
    """PyAV could not read the file cleanly (no audio stream, a decoder error, a cut-off file…): the caller
    falls back to the ffmpeg CLI, whose exit status and messages say what is wrong, exactly as before."""


class HashingReader:
    """A binary file PyAV reads from that computes the file's SHA-256 on the way, so intake reads each byte
    once. Bytes are hashed in file order; where the demuxer jumps ahead (an MP4 index at the end),
    ``hexdigest`` reads the part it skipped."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.digest, self.hashed = raw, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        pos = self.raw.tell()
        data = self.raw.read(n)
        if pos <= self.hashed < pos + len(data):
            self.digest.update(memoryview(data)[self.hashed - pos :])
            self.hashed = pos + len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def seekable(self) -> bool:
        return True

    def hexdigest(self) -> str:
        self.raw.seek(self.hashed)
        while block := self.raw.read(1 << 20):
            self.digest.update(block)
            self.hashed += len(block)
        return self.digest.hexdigest()


class AvDecoder:
    """The audio stream of a file that the ffmpeg CLI would pick (``default_audio_stream``), decoded in this
    process with PyAV (FFmpeg's own libraries), as mono float32 at ``rate`` (``None``: the file's own rate),
    downmixed and resampled by libswresample exactly as ``ffmpeg -ac 1 -ar rate`` does: the same samples as the
    CLI without a process start per file. Any decoder error makes ``chunks`` raise ``InProcessUnreadable`` (the
    CLI then reports it as before)."""

    def __init__(self, source: str | Path | BinaryIO, rate: int | None = SAMPLE_RATE):
        import av

        self._av = av
        self._level = av.logging.get_level()
        av.logging.set_level(av.logging.ERROR)  # decoder errors must reach the capture below, not vanish
        self._capture = av.logging.Capture()
        self._logs = self._capture.__enter__()
        try:
            self.container = av.open(source if not isinstance(source, Path) else str(source), "r")
            if not self.container.streams.audio:
                raise InProcessUnreadable("no audio stream")
            audio = list(self.container.streams.audio)
            picked = default_audio_stream([(bool(a.disposition & a.disposition.default), a.channels) for a in audio])
            self.stream = audio[picked]
        except InProcessUnreadable:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds; the CLI names the problem
            self.close()
            raise InProcessUnreadable(str(exc)) from exc
        cc = self.stream.codec_context
        duration = None
        if self.stream.duration is not None and self.stream.time_base is not None:
            duration = float(self.stream.duration * self.stream.time_base)
        elif self.container.duration is not None:
            duration = self.container.duration / 1_000_000
        self.facts = ProbeInfo(  # what ffprobe says of the stream (default_audio_stream)
            codec=cc.codec.canonical_name if cc.codec else None,
            sample_rate=cc.sample_rate or None,
            channels=cc.channels or None,
            declared_duration=duration,
        )
        self.rate = rate or cc.sample_rate or SAMPLE_RATE

    def chunks(self, min_samples: int = 4 * SAMPLE_RATE) -> Iterator[np.ndarray]:
        """Mono float32 blocks of at least ``min_samples`` (the last may be shorter), in order. Decoded frames
        are converted a block at a time (one resampler call, or numpy where only a downmix is needed); each frame
        costs only a view of its planes (``to_ndarray`` per frame was a fifth of the decoding time of a clip)."""
        pending: list[np.ndarray] = []
        size, kind = 0, None
        try:
            for frame in self.container.decode(self.stream):
                this = (frame.format.name, frame.layout.name, frame.sample_rate)
                if kind is None:
                    kind, self._resampler = this, None
                elif this != kind:
                    raise InProcessUnreadable(f"the audio changes from {kind} to {this} mid-stream")
                pending.append(_planes(frame, kind[0]))
                size += frame.samples
                if self._logs and self._errors():
                    raise InProcessUnreadable(self._errors())
                if size * self.rate >= min_samples * kind[2]:
                    if (block := self._mono(pending, kind, last=False)).size:
                        yield block
                    pending, size = [], 0
            block = self._mono(pending, kind, last=True) if kind else np.zeros(0, dtype=np.float32)
        except InProcessUnreadable:
            raise
        except Exception as exc:  # noqa: BLE001 - a decoder error: the CLI reports it as before
            raise InProcessUnreadable(str(exc)) from exc
        if self._errors():
            raise InProcessUnreadable(self._errors())
        if block.size:
            yield block

    def _mono(self, frames: list[list[np.ndarray]], kind: tuple[str, str, int], last: bool) -> np.ndarray:
        """Decoded frames (``_planes`` of each) as mono float32 at ``self.rate``, as libswresample makes it."""
        fmt, layout, rate = kind
        channels = len(self._av.AudioLayout(layout).channels)
        planes = [np.concatenate(plane) for plane in zip(*frames)]  # one copy; channel by channel when planar
        if rate == self.rate and channels <= 2 and fmt.rstrip("p") in _SCALE:
            if not planes:
                return np.zeros(0, dtype=np.float32)
            # packed: L R L R … in one plane
            data = planes if fmt.endswith("p") else list(planes[0].reshape(-1, channels).T)
            scale = _SCALE[fmt.rstrip("p")]
            data = [d.astype(np.float32, copy=False) for d in data]
            if scale is not None:
                data = [d * np.float32(scale) for d in data]
            # libswresample's rematrix for -ac 1: each channel of a stereo pair times sqrt(1/2), summed
            return data[0] if channels == 1 else data[0] * _HALF_POWER + data[1] * _HALF_POWER
        data = np.stack(planes) if planes else None
        if self._resampler is None:
            self._resampler = self._av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        out = []
        if data is not None:
            frame = self._av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
            frame.sample_rate = rate
            out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        if last:
            out += [f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _errors(self) -> str:
        return "".join(message for level, _, message in self._logs if level <= self._av.logging.ERROR).strip()

    def close(self) -> None:
        if getattr(self, "container", None) is not None:
            self.container.close()
            self.container = None
        if self._capture is not None:
            self._capture.__exit__(None, None, None)
            self._capture = None
            self._av.logging.set_level(self._level)

    def __enter__(self) -> AvDecoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _planes(frame, fmt: str) -> list[np.ndarray]:
    """A decoded frame's samples as ``to_ndarray`` gives them, one array per plane (one for packed formats),
    viewing FFmpeg's buffers without ``to_ndarray``'s per-frame stacking."""
    dtype = _DTYPES.get(fmt.rstrip("p"))
    if dtype is None:
        return list(frame.to_ndarray())
    if fmt.endswith("p"):
        return [np.frombuffer(plane, dtype, frame.samples) for plane in frame.planes]
    return [np.frombuffer(frame.planes[0], dtype, frame.samples * len(frame.layout.channels))]


def read_native(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray | None:
    """A lossless mono file already at ``sample_rate`` (processed audio): libsndfile's samples, which are
    ffmpeg's exactly (no downmix or resampling to differ in the last bits), without PyAV or a process; ``None``
    for anything else."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError):
        return None
    if (info.samplerate, info.channels) != (sample_rate, 1):
        return None
    return decode_lossless(path, sample_rate=sample_rate)


def decode_in_process(path: str | Path, rate: int | None = SAMPLE_RATE) -> np.ndarray | None:
    """The whole file as mono float32 at ``rate`` (``None``: its own rate), or ``None`` where the ffmpeg CLI
    must decide (``decode`` in ``audio/ffmpeg.py`` then gives today's samples and errors)."""
    try:
        with AvDecoder(path, rate) as decoder:
            parts = list(decoder.chunks())
    except InProcessUnreadable:
        return None
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
