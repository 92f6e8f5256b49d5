"""Normalization of BCS transcripts.

``normalize_transcript`` gives the training text (what the model learns to write: casing and
punctuation kept). ``normalize_for_eval`` gives what WER compares: lower case, no punctuation,
always Latin script, so the score measures words rather than formatting.
"""

from __future__ import annotations

import re
import unicodedata

from whisper_pipeline.text.transliterate import cyrillic_to_latin

_ANNOTATIONS = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>|\{[^}]*\}")
_QUOTES = str.maketrans({"„": '"', "“": '"', "”": '"', "»": '"', "«": '"', "‘": "'", "’": "'", "‚": "'",
                         "–": "-", "—": "-", "…": "..."})
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
_PUNCT = re.compile(r"[^\w\s]|_")


def normalize_transcript(text: str, transliterate: bool = True) -> str:
    """Training text: NFC, annotations ([muzika], (smijeh), <noise>, {…}) removed, Latin script."""
    text = unicodedata.normalize("NFC", text).replace("\ufeff", "")
    text = _ANNOTATIONS.sub(" ", text)
    text = text.translate(_QUOTES)
    if transliterate:
        text = cyrillic_to_latin(text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def normalize_for_eval(text: str) -> str:
    """Scoring text: training text, lower-cased, punctuation removed, whitespace collapsed."""
    text = normalize_transcript(text, transliterate=True).lower()
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
