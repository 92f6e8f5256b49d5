"""How sure the model was of one draft: three of Whisper's per-segment statistics folded into one score.

- ``avg_logprob``: the segments' average token log-probability, weighted by segment duration (a long
  segment the model was unsure of matters more than a short one);
- ``no_speech_prob``: the highest no-speech probability of any segment (music, noise or silence that was
  transcribed anyway is where Whisper hallucinates);
- ``compression_ratio``: the highest gzip compression ratio of any segment's text (above 2.4, Whisper's
  own threshold, the text repeats itself: a decoding loop).

``score = exp(avg_logprob) × (1 − no_speech_prob) × min(1, 2.4 / compression_ratio)``, in [0, 1]: the
geometric-mean token probability, discounted by the chance there was no speech and by repetition. A draft
with no text scores 0 (silence, or a model that heard nothing: a person must listen). A measure the
backend did not report counts as neutral (factor 1).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

COMPRESSION_THRESHOLD = 2.4  # Whisper's default: a segment compressing better than this is a repetition loop


@dataclass(frozen=True)
class Confidence:
    """The three measures of one draft and the rank score made from them."""

    avg_logprob: float | None
    no_speech_prob: float | None
    compression_ratio: float | None
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


def _weighted_logprob(segments: list[dict]) -> float | None:
    pairs = [(s["avg_logprob"], max(0.0, s["end"] - s["start"])) for s in segments if s.get("avg_logprob") is not None]
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    if total <= 0:  # zero-length segments: plain mean
        return sum(lp for lp, _ in pairs) / len(pairs)
    return sum(lp * w for lp, w in pairs) / total


def _max_of(segments: list[dict], key: str) -> float | None:
    values = [s[key] for s in segments if s.get(key) is not None]
    return max(values) if values else None


def confidence(segments: list[dict]) -> Confidence:
    """The measures and score of a transcription's ``segments`` (each with ``start``, ``end``, ``text`` and
    ``avg_logprob``/``no_speech_prob``/``compression_ratio`` as ``serving/engine.py`` returns them)."""
    spoken = [s for s in segments if (s.get("text") or "").strip()]
    if not spoken:
        return Confidence(None, _max_of(segments, "no_speech_prob"), None, 0.0)
    logprob = _weighted_logprob(spoken)
    no_speech = _max_of(spoken, "no_speech_prob")
    ratio = _max_of(spoken, "compression_ratio")
    score = math.exp(min(0.0, logprob)) if logprob is not None else 1.0
    if no_speech is not None:
        score *= 1.0 - min(1.0, max(0.0, no_speech))
    if ratio is not None and ratio > COMPRESSION_THRESHOLD:
        score *= COMPRESSION_THRESHOLD / ratio
    return Confidence(
        None if logprob is None else round(logprob, 4),
        None if no_speech is None else round(no_speech, 4),
        None if ratio is None else round(ratio, 4),
        round(score, 4),
    )
