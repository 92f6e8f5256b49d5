"""Read transcript files whatever their encoding: UTF-8 (with or without BOM), UTF-16 (with or
without BOM), Windows-1250 or ISO-8859-2.

The two single-byte code pages read the same for ``č ć đ`` and ASCII but put ``Š š Ž ž`` (and
``Ś ś Ź ź Ť ť``) at different bytes, where the other code page has ``© ą ® ľ ¦ ¶ ¬ Ľ « »``. So both
decodings are scored on what BCS text holds (its letters and its typographic quotes) against what
it never holds (C1 control codes, Slovak/Polish letters, stray symbols), and the better one wins.
The confidence says how clearly it won.
"""

from __future__ import annotations

import codecs
import math
import unicodedata
from pathlib import Path
from typing import NamedTuple

BCS_LETTERS = set("čćđšžČĆĐŠŽ") | set("абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЛЉМНЊОПРСТЋУФХЦЧЏШ")
BCS_PUNCTUATION = set("„“”‘’‚–—…«»•\u00a0")
SINGLE_BYTE = ("cp1250", "iso-8859-2")


class DecodedText(NamedTuple):
    text: str
    encoding: str
    confidence: float  # 0.5 = a guess between equals, 1.0 = certain (a BOM, or both readings agree)


class TranscriptError(ValueError):
    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def bcs_score(text: str) -> float:
    """How much a decoding looks like BCS text: + for its letters and quotes, − for what it never holds."""
    score = 0.0
    for ch in text:
        if ch.isascii():
            score -= 3.0 if ch == "\x00" else 0.0
        elif ch in BCS_LETTERS:
            score += 1.0
        elif ch in BCS_PUNCTUATION:
            score += 0.5
        elif unicodedata.category(ch) in ("Cc", "Cn", "Co"):
            score -= 3.0  # C1 control codes: ISO-8859-2 reading cp1250's quotes and Š/Ž
        else:
            score -= 1.0  # ©, ľ, ą, ¦…: letters and symbols BCS does not write
    return score


def _plausible_fraction(text: str) -> float:
    """Share of characters that are printable ASCII, whitespace, BCS letters or punctuation."""
    if not text:
        return 0.0
    good = sum(
        ch.isascii() and (ch.isprintable() or ch in "\t\r\n") or ch in BCS_LETTERS or ch in BCS_PUNCTUATION
        for ch in text
    )
    return good / len(text)


def _single_byte(raw: bytes) -> DecodedText:
    readings = {}
    for encoding in SINGLE_BYTE:
        try:
            readings[encoding] = raw.decode(encoding)
        except UnicodeDecodeError:  # cp1250 leaves five bytes undefined
            continue
    readings = {e: t for e, t in readings.items() if "\x00" not in t and _plausible_fraction(t) >= 0.8}
    if not readings:
        raise UnicodeDecodeError("iso-8859-2", raw, 0, len(raw), "binary data, or not a BCS text encoding")
    if len(set(readings.values())) == 1:  # only bytes both code pages share (č ć đ …)
        return DecodedText(next(iter(readings.values())), next(iter(readings)), 1.0)
    scores = {encoding: bcs_score(text) for encoding, text in readings.items()}
    best = max(readings, key=lambda e: (scores[e], e == "cp1250"))
    margin = scores[best] - min(scores.values())  # one Š against a © is 2: already a clear call
    return DecodedText(readings[best], best, round(1 - 0.5 * math.exp(-margin), 4))


def _utf16_without_bom(raw: bytes) -> DecodedText | None:
    """UTF-16 text without a BOM: NUL bytes (which no 8-bit BCS text holds), and a decoding that reads."""
    if b"\x00" not in raw or len(raw) % 2:
        return None
    readings = []
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        readings.append((_plausible_fraction(text), encoding, text))
    if not readings:
        return None
    fraction, encoding, text = max(readings)
    return DecodedText(text, encoding, round(fraction, 4)) if fraction >= 0.9 else None


def decode_transcript_bytes(raw: bytes) -> DecodedText:
    """The text, the encoding it was read with and how sure that is (see the module docstring)."""
    if raw.startswith(codecs.BOM_UTF8):
        return DecodedText(raw[3:].decode("utf-8"), "utf-8-sig", 1.0)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return DecodedText(raw.decode("utf-16"), "utf-16", 1.0)
    if (utf16 := _utf16_without_bom(raw)) is not None:
        return utf16
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _single_byte(raw)
    if "\x00" in text:
        raise UnicodeDecodeError("utf-8", raw, text.index("\x00"), text.index("\x00") + 1, "NUL bytes in text")
    # Multi-byte UTF-8 sequences almost never occur by chance in 8-bit text; pure ASCII reads the same in all.
    return DecodedText(text, "utf-8", 1.0 if text.isascii() else 0.99)


def read_transcript(path: str | Path) -> DecodedText:
    """The stripped text of a transcript file, with its detected encoding and confidence."""
    path = Path(path)
    try:
        text, encoding, confidence = decode_transcript_bytes(path.read_bytes())
    except UnicodeDecodeError as exc:
        raise TranscriptError(path, f"unreadable text encoding ({exc.reason})") from exc
    return DecodedText(text.strip(), encoding, confidence)
