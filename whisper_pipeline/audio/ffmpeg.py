"""Decode and probe any audio that ffmpeg reads, with errors that name the file."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000


class AudioError(RuntimeError):
    """A file could not be read as audio; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str, detail: str = ""):
        detail = detail.strip()
        if detail.startswith(f"{path}: "):  # ffmpeg prefixes messages with the input path
            detail = detail[len(str(path)) + 2 :]
        self.path, self.reason, self.detail = str(path), reason, detail
        super().__init__(f"{path}: {reason}" + (f" ({self.detail})" if self.detail else ""))

    def __reduce__(self):  # picklable, so a worker process can report it
        return (AudioError, (self.path, self.reason, self.detail))


def require_ffmpeg() -> None:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found on PATH; install it (Debian: apt-get install ffmpeg)")


@dataclass
class ProbeInfo:
    codec: str | None
    sample_rate: int | None
    channels: int | None
    declared_duration: float | None


def default_audio_stream(streams: list[tuple[bool, int]]) -> int:
    """Which of a file's audio streams ``ffmpeg -i FILE`` decodes when no ``-map`` is given, as (is the default
    disposition, channels) per stream in file order: the default-disposition one first, then the most channels,
    then the first (ffmpeg's automatic stream selection). Probe, CLI decode and in-process decode all use it, so
    the facts describe the samples."""
    return max(range(len(streams)), key=lambda i: (streams[i][0], streams[i][1], -i))


def probe(path: str | Path) -> ProbeInfo:
    """Container-level facts from ffprobe; raises ``AudioError`` if there is no audio stream."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioError(path, "empty", "0 bytes")
    proc = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "a",
            "-show_entries",
            "stream=codec_name,sample_rate,channels,duration:stream_disposition=default:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    info = json.loads(proc.stdout or "{}")
    streams = info.get("streams") or []
    if proc.returncode != 0 or not streams:
        raise AudioError(
            path, "undecodable", proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no audio stream"
        )
    stream = streams[
        default_audio_stream(
            [(bool((s.get("disposition") or {}).get("default")), int(s.get("channels") or 0)) for s in streams]
        )
    ]
    duration = stream.get("duration") or (info.get("format") or {}).get("duration")
    return ProbeInfo(
        codec=stream.get("codec_name"),
        sample_rate=int(stream["sample_rate"]) if stream.get("sample_rate") else None,
        channels=int(stream["channels"]) if stream.get("channels") else None,
        declared_duration=float(duration) if duration not in (None, "N/A") else None,
    )


def decode_reporting_errors(path: str | Path, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, str]:
    """Decode to mono float32; return the samples and ffmpeg's decoder errors (empty if clean)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioError(path, "empty", "0 bytes")
    proc = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-vn",
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            str(sample_rate),
            "-",
        ],
        capture_output=True,
    )
    audio = np.frombuffer(proc.stdout, dtype=np.float32).copy()
    errors = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0 and audio.size == 0:
        raise AudioError(path, "undecodable", errors.splitlines()[-1] if errors else f"ffmpeg exit {proc.returncode}")
    return audio, errors


def decode(path: str | Path, sample_rate: int = SAMPLE_RATE, strict: bool = False) -> np.ndarray:
    """Decode to mono float32 at ``sample_rate``: a lossless mono file already at that rate (processed audio) with
    libsndfile (the CLI's samples exactly); else in this process with PyAV (FFmpeg's own libraries: the CLI's
    samples within float rounding, without a process start per file) when it reads the file cleanly; else with
    the ffmpeg CLI (``decode_cli``), whose messages name the problem. With ``strict``, any decoder error is fatal
    (PyAV hands every file with one to the CLI, which then reports it; nothing is read natively)."""
    from whisper_pipeline.audio.in_process import decode_in_process, read_native

    audio = None if strict else read_native(path, sample_rate)
    if audio is None:
        audio = decode_in_process(path, sample_rate)
    return audio if audio is not None else decode_cli(path, sample_rate, strict)


def decode_cli(path: str | Path, sample_rate: int = SAMPLE_RATE, strict: bool = False) -> np.ndarray:
    """Decode to mono float32 with an ``ffmpeg`` subprocess. With ``strict``, any decoder error is fatal."""
    audio, errors = decode_reporting_errors(path, sample_rate)
    if strict and errors:
        raise AudioError(path, "truncated", errors.splitlines()[0])
    return audio


def wav_declared_frames_missing(path: str | Path) -> bool:
    """True if a RIFF/WAVE header promises more data than the file holds (a cut-off copy)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        size = Path(path).stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return False
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                streaming_placeholder = csize in (0, 0xFFFFFFFF)
                return not streaming_placeholder and f.tell() + csize > size
            f.seek(csize + (csize & 1), 1)


def write_wav16(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM WAV (what Whisper recipes and most tools expect), written by the caller atomically."""
    import soundfile as sf

    sf.write(str(path), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
