"""Measure word-boundary accuracy of the aligner on speech whose boundaries are known exactly.

Two kinds of test speech, because one alone flatters the aligner:

* ``build_clip``: each word synthesised on its own with espeak-ng, its silence trimmed by energy,
  the words joined with random stretches of digital silence. Every start and end is known to the
  sample, but every boundary is also an energy edge next to perfect silence, which is exactly what
  ``snap_to_speech`` looks for, so part of its gain there is built into the data.
* ``build_connected_clip``: the whole sentence synthesised at once (connected speech, with
  espeak's own pauses only at punctuation); true word starts come from espeak-ng's word events
  (``whisper_pipeline.audio.espeak_words``). Most of these boundaries have no silence at all.
  Ends are not known there, so only starts are scored.

Either kind can be degraded with one of ``whisper_pipeline.audio.degrade.CONDITIONS`` (pink noise,
babble, reverberation, ...) after the truth is taken from the clean speech; babble is made from
``babble_speech``: other sentences read by other espeak-ng voices than the one being aligned.
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
EDGE_PAD_S = 0.3  # digital silence before and after every clip
PAUSE_BEFORE_S = 0.1  # a true start with this much quiet before it counts as "after a pause"


@dataclass
class KnownClip:
    audio: str
    text: str
    words: list[dict]  # word, start (s); end (s) where known; after_pause (bool) for connected clips


def _word_audio(word: str, voice: str, speed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "w.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), word],
            check=True,
            capture_output=True,
        )
        audio = decode(wav)
    loud = np.flatnonzero(np.abs(audio) > 10 ** (SILENCE_DBFS / 20))
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def _add_noise(audio: np.ndarray, speech_power: float, snr_db: float, seed: int) -> np.ndarray:
    """White noise at ``snr_db`` below ``speech_power``, over the whole clip (seeded)."""
    noise = np.random.default_rng(seed).standard_normal(audio.size)
    scale = np.sqrt(speech_power / 10 ** (snr_db / 10))
    return audio + (noise * scale).astype(np.float32)


def _degraded(audio: np.ndarray, condition: str, path: Path, babble_pool: list[np.ndarray] | None) -> np.ndarray:
    """``audio`` under one of the shared degradation conditions (``clean`` returns it as it is),
    seeded by the clip's file name, so every clip gets its own noise and a rerun the same."""
    if condition == "clean":
        return audio
    from whisper_pipeline.audio.degrade import degrade

    return degrade(audio, condition, seed=f"alignment-accuracy:{Path(path).name}", babble_pool=babble_pool)


# Babble talkers: sentences from this index on (the benchmark reads the first six per language, the
# tests 10 and 11), each read by an espeak-ng voice variant with its own pitch and rate, so the
# babble is never the sentence or the voice being aligned.
BABBLE_FIRST_SENTENCE = 12
BABBLE_VARIANTS = ("m1", "f2", "m3", "f4", "m7", "f1")


def babble_speech(per_language: int = 4, languages: tuple[str, ...] = ("bs", "hr", "sr")) -> list[np.ndarray]:
    """16 kHz sentences by other voices than the aligned clips' (``voice`` without a variant), for
    ``degrade``'s babble conditions."""
    from whisper_pipeline.sample_data import sentences, speak

    pool = []
    with tempfile.TemporaryDirectory() as tmp:
        for lang in languages:
            chosen = sentences(lang)[BABBLE_FIRST_SENTENCE : BABBLE_FIRST_SENTENCE + per_language]
            for k, sentence in enumerate(chosen):
                wav = Path(tmp) / f"{lang}{k}.wav"
                variant = BABBLE_VARIANTS[(len(pool)) % len(BABBLE_VARIANTS)]
                speak(sentence, f"{lang}+{variant}", 140 + 10 * (k % 4), 30 + 15 * (k % 4), wav)
                pool.append(decode(wav))
    return pool


def build_clip(
    sentence: str,
    path: Path,
    voice: str = "hr",
    speed: int = 150,
    seed: int = 0,
    min_gap_s: float = 0.0,
    max_gap_s: float = 0.35,
    noise_snr_db: float | None = None,
    condition: str = "clean",
    babble_pool: list[np.ndarray] | None = None,
) -> KnownClip:
    """One sentence spoken word by word with random pauses (0 = words touching); returns the truth.
    With ``noise_snr_db``, white noise at that SNR (relative to the speech) covers the whole clip;
    with ``condition``, the clip is degraded that way (``_degraded``)."""
    rng = random.Random(seed)
    pieces = [np.zeros(int(EDGE_PAD_S * SAMPLE_RATE), np.float32)]
    words, t = [], EDGE_PAD_S
    for word in sentence.split():
        audio = _word_audio(word, voice, speed)
        end = t + audio.size / SAMPLE_RATE
        words.append({"word": word, "start": round(t, 4), "end": round(end, 4)})
        gap = int(rng.uniform(min_gap_s, max_gap_s) * SAMPLE_RATE)
        pieces += [audio, np.zeros(gap, np.float32)]
        t = end + gap / SAMPLE_RATE
    pieces.append(np.zeros(int(EDGE_PAD_S * SAMPLE_RATE), np.float32))
    audio = np.concatenate(pieces)
    if noise_snr_db is not None:
        speech_power = float(np.mean(np.concatenate(pieces[1:-1:2]) ** 2))
        audio = _add_noise(audio, speech_power, noise_snr_db, seed)
    write_wav16(path, _degraded(audio, condition, path, babble_pool))
    return KnownClip(str(path), sentence, words)


def _quiet_frames(audio: np.ndarray, frame: int) -> np.ndarray:
    """Per frame of ``frame`` samples: True where it is below ``SILENCE_DBFS``."""
    n = audio.size // frame
    power = np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1)
    return 10 * np.log10(power + 1e-12) < SILENCE_DBFS


def build_connected_clip(
    sentence: str,
    path: Path,
    voice: str = "hr",
    speed: int = 150,
    pitch: int = 50,
    seed: int = 0,
    noise_snr_db: float | None = None,
    condition: str = "clean",
    babble_pool: list[np.ndarray] | None = None,
) -> KnownClip:
    """The sentence spoken in one go; word starts from the synthesiser, not from the signal.

    Each word is marked ``after_pause`` when the clean audio is quiet for ``PAUSE_BEFORE_S`` before
    its true start (the first word, words after punctuation), so errors can be split into the
    boundaries an energy detector can see and those it cannot. With ``noise_snr_db``, white noise
    at that SNR relative to the active speech (10 ms frames above ``SILENCE_DBFS``); with
    ``condition``, degraded that way (``_degraded``)."""
    from whisper_pipeline.audio.espeak_words import speak_with_word_starts

    spoken = speak_with_word_starts(sentence, voice, speed, pitch)
    with tempfile.TemporaryDirectory() as tmp:  # espeak's 22050 Hz to 16 kHz with ffmpeg, as intake does
        native = Path(tmp) / "native.wav"
        write_wav16(native, spoken.samples, spoken.sample_rate)
        speech = decode(native)
    pad = np.zeros(int(EDGE_PAD_S * SAMPLE_RATE), np.float32)
    audio = np.concatenate([pad, speech, pad])
    frame = SAMPLE_RATE // 100
    quiet = _quiet_frames(audio, frame)
    words = []
    for word, start in spoken.words:
        t = EDGE_PAD_S + start
        last = int(t * 100)  # frames wholly before the start
        before = quiet[max(0, last - round(PAUSE_BEFORE_S * 100)) : last]
        words.append({"word": word, "start": round(t, 4), "after_pause": bool(before.all())})
    if noise_snr_db is not None:
        n = audio.size // frame
        active = audio[: n * frame].reshape(n, frame)[~quiet]
        audio = _add_noise(audio, float(np.mean(active**2)), noise_snr_db, seed)
    write_wav16(path, _degraded(audio, condition, path, babble_pool))
    return KnownClip(str(path), sentence, words)


def _spoken(aligned: list[dict]) -> list[dict]:
    return [w for w in aligned if w["word"].strip()]


def boundary_errors(truth: list[dict], aligned: list[dict]) -> list[float] | None:
    """Absolute start and end errors (seconds) word by word; None if the word counts differ."""
    aligned = _spoken(aligned)
    if len(aligned) != len(truth):
        return None
    errors = []
    for t, a in zip(truth, aligned):
        errors += [abs(a["start"] - t["start"]), abs(a["end"] - t["end"])]
    return errors


def start_errors(truth: list[dict], aligned: list[dict], signed: bool = False) -> list[float] | None:
    """Absolute start errors (seconds) word by word, or with ``signed`` predicted minus true
    (positive = late), to see which way a correction moves the starts; None if the word counts
    differ."""
    aligned = _spoken(aligned)
    if len(aligned) != len(truth):
        return None
    diffs = [a["start"] - t["start"] for t, a in zip(truth, aligned)]
    return diffs if signed else [abs(d) for d in diffs]


def summarize(errors: list[float]) -> dict:
    """Count, mean, median and 95th percentile in ms (zeros and NaN when there are no errors)."""
    arr = np.asarray(errors, dtype=float) * 1000
    if arr.size == 0:
        return {
            "boundaries": 0,
            "mean_ms": float("nan"),
            "median_ms": float("nan"),
            "p95_ms": float("nan"),
        }
    return {
        "boundaries": int(arr.size),
        "mean_ms": round(float(arr.mean()), 1),
        "median_ms": round(float(np.median(arr)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
    }
