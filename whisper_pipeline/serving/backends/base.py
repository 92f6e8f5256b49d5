"""What every inference backend offers the engine, and the small helpers they share.

A backend holds one loaded model. The engine owns the cache, the lock, the choice of language, word
snapping and the answer's shape; a backend only decodes. Segments a backend returns are plain dicts:
``start``, ``end``, ``text``, ``words`` (``word``, ``start``, ``end``, ``probability``) in seconds of the
recording, and ``avg_logprob``, ``compression_ratio``, ``no_speech_prob`` (None where the backend has no
such number)."""

from __future__ import annotations

import zlib
from typing import Protocol

import numpy as np

from whisper_pipeline.serving.backends.guards import DEFAULT_GUARDS, Guards
from whisper_pipeline.workspace import LANGUAGES

BACKENDS = ("auto", "ct2", "transformers")


class Backend(Protocol):
    name: str

    def trained_language(self) -> str | None:
        """The language a one-language run was trained on, else None."""

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        """bs/hr/sr probabilities (summing to 1) from the first 30 s."""

    def transcribe(
        self,
        audio: np.ndarray,
        language: str,
        num_beams: int = 1,
        prompt: str | None = None,
        temperature: float = 0.0,
        guards: Guards = DEFAULT_GUARDS,
    ) -> list[dict]:
        """Segments with words (not yet snapped to speech), decoded under ``guards``."""

    def align(self, audio: np.ndarray, text: str, language: str) -> list[dict] | None:
        """Segments placing the words of ``text``; None when the model cannot align them."""


def compression_ratio(text: str) -> float | None:
    """Whisper's repetition signal: bytes of the text over bytes of its zlib compression (above ~2.4 the
    text is mostly repeats, a decoding failure)."""
    data = text.encode("utf-8")
    return round(len(data) / len(zlib.compress(data)), 4) if data else None


def restrict_languages(probabilities: dict[str, float]) -> dict[str, float]:
    """bs/hr/sr probabilities renormalised to sum to 1: the other ~96 languages are left out (Whisper
    often says "ru" or "sl" for BCS speech). Equal shares when the model gives none of the three."""
    picked = {lang: float(probabilities.get(lang, 0.0)) for lang in LANGUAGES}
    total = sum(picked.values())
    return {lang: (p / total if total > 0 else 1 / len(LANGUAGES)) for lang, p in picked.items()}
