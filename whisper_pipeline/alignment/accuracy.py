"""Measure word-boundary accuracy of the aligner on speech whose boundaries are known exactly.

Each word is synthesised on its own with espeak-ng, its silence trimmed by energy, and the words
are concatenated with random pauses: the true start and end of every word are then known to the
sample. The aligner's word timestamps are compared with them.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, decode, write_wav16

SILENCE_DBFS = -40.0


@dataclass
class KnownClip:
    audio: str
    text: str
    words: list[dict]  # word, start, end (seconds)


def _word_audio(word: str, voice: str, speed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "w.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), word], check=True, capture_output=True)
        audio = decode(wav)
    loud = np.flatnonzero(np.abs(audio) > 10 ** (SILENCE_DBFS / 20))
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def build_clip(sentence: str, path: Path, voice: str = "hr", speed: int = 150, seed: int = 0,
               min_gap_s: float = 0.0, max_gap_s: float = 0.35, noise_snr_db: float | None = None) -> KnownClip:
    """One sentence spoken word by word with random pauses (0 = words touching); returns the truth.
    With ``noise_snr_db``, white noise at that SNR (relative to the speech) covers the whole clip."""
    rng = random.Random(seed)
    pieces, words, t = [np.zeros(int(0.3 * SAMPLE_RATE), np.float32)], [], 0.3
    for word in sentence.split():
        audio = _word_audio(word, voice, speed)
        words.append({"word": word, "start": round(t, 4), "end": round(t + audio.size / SAMPLE_RATE, 4)})
        gap = rng.uniform(min_gap_s, max_gap_s)
        pieces += [audio, np.zeros(int(gap * SAMPLE_RATE), np.float32)]
        t += audio.size / SAMPLE_RATE + int(gap * SAMPLE_RATE) / SAMPLE_RATE
    pieces.append(np.zeros(int(0.3 * SAMPLE_RATE), np.float32))
    audio = np.concatenate(pieces)
    if noise_snr_db is not None:
        speech_power = float(np.mean(np.concatenate(pieces[1:-1:2]) ** 2))
        noise = np.random.default_rng(seed).standard_normal(audio.size) * np.sqrt(speech_power / 10 ** (noise_snr_db / 10))
        audio = audio + noise.astype(np.float32)
    write_wav16(path, audio)
    return KnownClip(str(path), sentence, words)


def boundary_errors(truth: list[dict], aligned: list[dict]) -> list[float] | None:
    """Absolute start and end errors (seconds) word by word; None if the word counts differ."""
    aligned = [w for w in aligned if w["word"].strip()]
    if len(aligned) != len(truth):
        return None
    errors = []
    for t, a in zip(truth, aligned):
        errors += [abs(a["start"] - t["start"]), abs(a["end"] - t["end"])]
    return errors


def summarize(errors: list[float]) -> dict:
    arr = np.asarray(errors) * 1000
    return {"boundaries": int(arr.size), "mean_ms": round(float(arr.mean()), 1),
            "median_ms": round(float(np.median(arr)), 1), "p95_ms": round(float(np.percentile(arr, 95)), 1)}
