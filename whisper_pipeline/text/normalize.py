"""Normalization of BCS transcripts: one text to train on, another to score with.

``normalize_transcript`` gives the **training text**, what the model learns to write: NFC,
invisible characters dropped, the one-character digraph letters ``ǅ ǈ ǋ`` (and their cases) spelt
as two letters, words that mix Latin and Cyrillic look-alike letters put in one script,
annotations (``[muzika]``, ``(smijeh)``, ``<noise>``, ``{…}``,
``*…*``) and speaker labels at line start (``A:``, ``Govornik 1:``) removed, quotes, dashes and
ellipses unified, Serbian Cyrillic → Latin unless asked to keep it; casing and punctuation kept.

``normalize_for_eval`` gives the **evaluation text**, what WER compares, modelled on Whisper's
``BasicTextNormalizer`` but for BCS: the training text, always in Latin script, lower case,
number words as digits, punctuation removed, and optionally ``đ`` spelled ``dj`` and diacritics
stripped, so the score counts words, not formatting.

``check_transcript`` is the training normalizer that also says *why* a transcript cannot be used.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from whisper_pipeline.text.numbers import normalize_digits, words_to_digits
from whisper_pipeline.text.transliterate import (
    DIGRAPH_LETTERS,
    cyrillic_to_latin,
    fix_mixed_script,
)

_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"), None)
_ANNOTATIONS = re.compile(r"\[[^\[\]]*\]|\([^()]*\)|<[^<>]*>|\{[^{}]*\}|\*[^*\n]+\*")
_SPEAKER_WORDS = (
    r"govornik|govornica|sugovornik|sugovornica|voditelj|voditeljica|novinar|novinarka|gost|gošća|"
    r"ispitivač|ispitanik|ispitanica|speaker|spk|moderator|moderatorka|pitanje|odgovor|"
    r"говорник|водитељ|новинар|гост"
)
_LABEL_WORD = re.compile(rf"^\s*(?:{_SPEAKER_WORDS})(?:[ _]?\d+)?\s*:\s*", re.IGNORECASE)
# "A:", "B2:", or a name in capitals ("MARKO:", "ANA MARIJA:"); case-sensitive, so "Dakle: idemo" stays.
_LABEL_CAPS = re.compile(
    r"^\s*(?:[A-ZČĆŠŽĐА-ЯЂЈЉЊЋЏ]\d?|[A-ZČĆŠŽĐА-ЯЂЈЉЊЋЏ]{2,20}(?: [A-ZČĆŠŽĐА-ЯЂЈЉЊЋЏ]{2,20})?)\s*:\s*"
)
_DIALOGUE_DASH = re.compile(r"^\s*[-–—]\s+")
_QUOTES = str.maketrans(
    {
        "„": '"',
        "“": '"',
        "”": '"',
        "»": '"',
        "«": '"',
        "‟": '"',
        "″": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‹": "'",
        "›": "'",
        "`": "'",
        "´": "'",
        "–": "-",
        "—": "-",
        "‒": "-",
        "−": "-",
        "‐": "-",
        "…": "...",
        "\u00a0": " ",
    }
)
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
_PUNCT = re.compile(r"[^\w\s]|_")
_BRACKETS = "[](){}<>"
# Letters a BCS transcript may hold: the Latin alphabet (with q w x y for foreign names) and Serbian Cyrillic.
_ALLOWED_LETTERS = set("abcčćdđefghijklmnopqrsštuvwxyzž") | set("абвгдђежзијклљмнњопрстћуфхцчџш")
_STRIP_DIACRITICS = str.maketrans({"č": "c", "ć": "c", "š": "s", "ž": "z", "đ": "dj"})


def _strip_speaker_labels(text: str) -> str:
    lines = []
    for line in text.splitlines():
        line = _LABEL_CAPS.sub("", _LABEL_WORD.sub("", line, count=1), count=1)
        lines.append(_DIALOGUE_DASH.sub("", line))
    return " ".join(lines)


def normalize_transcript(text: str, keep_cyrillic: bool = False) -> str:
    """Training text (see the module docstring)."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE).translate(DIGRAPH_LETTERS)
    text = fix_mixed_script(_strip_speaker_labels(text))
    previous = None
    while previous != text:  # nested annotations: [smijeh (glasno)]
        previous, text = text, _ANNOTATIONS.sub(" ", text)
    text = text.translate(_QUOTES)
    if not keep_cyrillic:
        text = cyrillic_to_latin(text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def check_transcript(text: str, keep_cyrillic: bool = False) -> tuple[str, str]:
    """(training text, "") or ("", reason) when the transcript cannot be normalized safely."""
    if not text or not text.strip():
        return "", "empty transcript"
    norm = normalize_transcript(text, keep_cyrillic)
    unbalanced = [c for c in _BRACKETS if c in norm]
    if unbalanced:
        return "", f"unbalanced bracket {''.join(unbalanced)!r}: cannot tell annotation from speech"
    if not norm:
        return "", "nothing left after removing annotations and speaker labels"
    foreign = sorted({c for c in norm.lower() if c.isalpha() and c not in _ALLOWED_LETTERS})
    if foreign:
        return "", f"letters outside the BCS alphabets: {''.join(foreign)!r}"
    if not any(c.isalpha() for c in norm):
        return "", "no words (only digits or punctuation)"
    return norm, ""


TARGET_FRACTION = 0.95
"""Share of a language's transcripts that must normalize (the ``normalized_fraction_meets_target`` check)."""


@dataclass
class NormalizationSettings:
    """How the training text is made (``check_transcript``)."""

    keep_cyrillic: bool = field(
        default=False, metadata={"help": "Train on Serbian Cyrillic as written instead of Latin"}
    )


@dataclass(frozen=True)
class EvalNormalizer:
    """The evaluation normalizer with its options; ``EvalNormalizer()(text)`` is the default."""

    dj_for_dj: bool = True  # write đ as dj, so "Djordje" and "Đorđe" compare equal
    strip_diacritics: bool = False  # č ć → c, š → s, ž → z (for references typed without diacritics)
    numbers_to_digits: bool = True  # "dvadeset pet" and "25" compare equal

    def __call__(self, text: str) -> str:
        text = normalize_transcript(text, keep_cyrillic=False).lower()
        if self.numbers_to_digits:
            text = normalize_digits(text)
        text = _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()
        if self.numbers_to_digits:
            text = words_to_digits(text)
        if self.strip_diacritics:
            text = text.translate(_STRIP_DIACRITICS)
        elif self.dj_for_dj:
            text = text.replace("đ", "dj")
        return text


DEFAULT_EVAL_NORMALIZER = EvalNormalizer()


def normalize_for_eval(text: str, normalizer: EvalNormalizer = DEFAULT_EVAL_NORMALIZER) -> str:
    """Evaluation text (see the module docstring)."""
    return normalizer(text)
