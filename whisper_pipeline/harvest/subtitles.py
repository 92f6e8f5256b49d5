"""WebVTT / SubRip subtitles → transcript text, keeping the cue timings for later segmentation."""

from __future__ import annotations

import html
import re
from pathlib import Path

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})"
_CUE = re.compile(rf"{_TIME}\s*-->\s*{_TIME}")
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_subtitles(text: str) -> list[dict]:
    """Cues as ``{"start", "end", "text"}``; styling tags removed, duplicates of rolling captions merged."""
    cues: list[dict] = []
    lines = text.replace("\r\n", "\n").replace("\ufeff", "").split("\n")
    i = 0
    while i < len(lines):
        match = _CUE.search(lines[i])
        if not match:
            i += 1
            continue
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        body = []
        i += 1
        while i < len(lines) and lines[i].strip():
            body.append(html.unescape(_TAGS.sub("", lines[i])).strip())
            i += 1
        content = " ".join(b for b in body if b)
        if content and not (cues and cues[-1]["text"] == content):
            cues.append({"start": round(start, 3), "end": round(end, 3), "text": content})
    return cues


def read_subtitles(path: str | Path) -> list[dict]:
    return parse_subtitles(Path(path).read_text(encoding="utf-8", errors="replace"))


def cues_to_text(cues: list[dict]) -> str:
    return re.sub(r"\s+", " ", " ".join(c["text"] for c in cues)).strip()
