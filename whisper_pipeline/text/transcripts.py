"""Read transcript files whatever their encoding (UTF-8 with or without BOM, UTF-16, Windows-1250)."""

from __future__ import annotations

import codecs
from pathlib import Path


class TranscriptError(ValueError):
    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def decode_transcript_bytes(raw: bytes) -> tuple[str, str]:
    """Return (text, encoding). Tries BOMs, UTF-8, then Windows-1250 (common for BCS text)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1250"), "cp1250"


def read_transcript(path: str | Path) -> tuple[str, str]:
    path = Path(path)
    try:
        text, encoding = decode_transcript_bytes(path.read_bytes())
    except UnicodeDecodeError as exc:
        raise TranscriptError(path, f"unreadable text encoding ({exc.reason})") from exc
    return text.strip(), encoding
