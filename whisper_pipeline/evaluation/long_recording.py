"""A long recording made to provoke Whisper's long-form failures, and the measures that catch them.

The recording alternates blocks of real espeak-ng speech (Croatian and Bosnian sentences, each spoken
once, with short pauses between them) with long stretches of what is not speech: near-silence (a -60
dBFS noise floor, not digital zeros, which anything can skip), chords (piano-like notes with harmonics
and decaying envelopes) and tone sweeps with vibrato. Whisper invents text in the silence and music and
falls into loops of one phrase; ``repeated_ngrams`` and ``words_inside`` count both."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, decode
from whisper_pipeline.sample_data import sentences, speak

KINDS = ("silence", "chords", "sweep")
VOICES = {"hr": "hr+f2", "bs": "bs+m3"}
NOISE_FLOOR = 1e-3  # ≈ -60 dBFS of white noise under everything
PAUSE_S = 0.8  # between sentences of a speech block


@dataclass
class LongRecording:
    audio: np.ndarray  # float32 mono, 16 kHz
    reference: str  # every sentence spoken, in order
    speech: list[tuple[float, float]] = field(default_factory=list)  # (start, end) s of each speech block
    other: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, kind) of the rest

    @property
    def duration(self) -> float:
        return self.audio.size / SAMPLE_RATE


def chords(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A new three-note chord every second, each note with three harmonics and a piano-like decay."""
    t = np.arange(int(SAMPLE_RATE * 1.0)) / SAMPLE_RATE
    envelope = np.exp(-3.0 * t) * np.minimum(1.0, t / 0.01)
    out = []
    for _ in range(int(np.ceil(seconds))):
        root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        tone = sum(
            sum(np.sin(2 * np.pi * root * 2 ** (step / 12) * h * t) / h for h in (1, 2, 3)) for step in (0, 4, 7)
        )
        out.append(0.08 * envelope * tone)
    return np.concatenate(out)[: int(seconds * SAMPLE_RATE)].astype(np.float32)


def sweep(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Exponential sweeps from 200 Hz to 2 kHz and back, 5 s each way, with a 6 Hz vibrato."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    position = 1 - np.abs((t / 5.0) % 2 - 1)  # 0 → 1 → 0 every 10 s
    freq = 200.0 * 10**position * (1 + 0.02 * np.sin(2 * np.pi * 6 * t + rng.uniform(0, 6.28)))
    return (0.15 * np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE)).astype(np.float32)


def build_long_recording(
    seconds: float = 600.0, blocks: int = 8, languages: tuple[str, ...] = ("hr", "bs"), seed: int = 0
) -> LongRecording:
    """About ``seconds`` of audio: the sentences of ``languages`` (each once, at 150 wpm) split into
    ``blocks`` speech blocks, each followed by one non-speech stretch (silence, chords, sweep in turn)
    as long as the remaining time allows (at least 10 s)."""
    rng = np.random.default_rng(seed)
    said = [(lang, s) for lang in languages for s in sentences(lang)]
    with tempfile.TemporaryDirectory(prefix="long-recording-") as tmp:
        spoken = []
        for i, (lang, text) in enumerate(said):
            wav = Path(tmp) / f"{i}.wav"
            speak(text, VOICES.get(lang, lang), 150, 50, wav)
            spoken.append(decode(str(wav)))
    pause = np.zeros(int(PAUSE_S * SAMPLE_RATE), np.float32)
    per_block = int(np.ceil(len(spoken) / blocks))
    speech_blocks = [
        np.concatenate([x for clip in spoken[k : k + per_block] for x in (clip, pause)])
        for k in range(0, len(spoken), per_block)
    ]
    speech_total = sum(b.size for b in speech_blocks) / SAMPLE_RATE
    other_s = max(10.0, (seconds - speech_total) / len(speech_blocks))
    parts, speech_spans, other_spans, t = [], [], [], 0.0
    for k, block in enumerate(speech_blocks):
        parts.append(block)
        speech_spans.append((t, t + block.size / SAMPLE_RATE))
        t += block.size / SAMPLE_RATE
        kind = KINDS[k % len(KINDS)]
        filler = {"silence": lambda s, _: np.zeros(int(s * SAMPLE_RATE), np.float32), "chords": chords, "sweep": sweep}
        stretch = filler[kind](other_s, rng)
        parts.append(stretch)
        other_spans.append((t, t + stretch.size / SAMPLE_RATE, kind))
        t += stretch.size / SAMPLE_RATE
    audio = np.concatenate(parts)
    audio = (audio + NOISE_FLOOR * rng.standard_normal(audio.size)).astype(np.float32)
    return LongRecording(audio, " ".join(text for _, text in said), speech_spans, other_spans)


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w]+", "", x.lower()) for x in text.split()) if w]


def repeated_ngrams(hypothesis: str, reference: str, n: int = 4, limit: int = 3) -> dict[str, tuple[int, int]]:
    """The ``n``-grams said more than ``limit`` times in ``hypothesis`` and more often than in
    ``reference``: {n-gram: (times in the hypothesis, times in the reference)}. A repetition loop
    shows up here; a phrase the speaker really repeats does not."""
    hyp, ref = _words(hypothesis), _words(reference)
    counts = Counter(" ".join(hyp[i : i + n]) for i in range(len(hyp) - n + 1))
    ref_counts = Counter(" ".join(ref[i : i + n]) for i in range(len(ref) - n + 1))
    return {g: (c, ref_counts[g]) for g, c in counts.most_common() if c > limit and c > ref_counts[g]}


def words_inside(words: list[dict], spans: list[tuple[float, float, str]], margin_s: float = 1.0) -> list[dict]:
    """The words whose middle lies in one of ``spans`` shrunk by ``margin_s`` at each end (a word's edges
    may bleed a little past the speech around a stretch; one placed well inside it was invented)."""
    inside = []
    for w in words:
        mid = (w["start"] + w["end"]) / 2
        if any(a + margin_s < mid < b - margin_s for a, b, *_ in spans):
            inside.append(w)
    return inside
