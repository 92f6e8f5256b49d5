"""Subtitle and karaoke files from aligned segments: SRT, WebVTT and enhanced LRC.

Segments are ``{"start", "end", "text", "words": [{"word", "start", "end"}]}`` in seconds, as in
``transcription_base.json``. Enhanced LRC (the "A2" extension karaoke players read) puts a
``[mm:ss.xx]`` line tag and a ``<mm:ss.xx>`` tag before every word and after the last one.
"""

from __future__ import annotations

import unicodedata


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def lrc_time(seconds: float) -> str:
    """``mm:ss.xx`` (minutes may exceed 59, as LRC players expect)."""
    cs = max(0, int(round(seconds * 100)))
    m, cs = divmod(cs, 6000)
    s, cs = divmod(cs, 100)
    return f"{m:02d}:{s:02d}.{cs:02d}"


def _text(segment: dict) -> str:
    return " ".join(segment["text"].split())


def to_srt(segments: list[dict]) -> str:
    blocks = [
        f"{i}\n{_clock(s['start'], ',')} --> {_clock(s['end'], ',')}\n{_text(s)}\n"
        for i, s in enumerate((s for s in segments if _text(s)), 1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: list[dict]) -> str:
    blocks = [f"{_clock(s['start'], '.')} --> {_clock(s['end'], '.')}\n{_text(s)}\n" for s in segments if _text(s)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def lrc_tag_value(value: str) -> str:
    """One line that cannot close its tag early: a title comes from a client's file name in the
    service, and a newline or ``]`` in it would otherwise add header tags or lyric lines of its own."""
    value = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
    return " ".join(value.translate(str.maketrans("[]", "()")).split())


def to_lrc(segments: list[dict], title: str = "", language: str = "") -> str:
    """Enhanced LRC: ``[mm:ss.xx] <mm:ss.xx> riječ <mm:ss.xx> riječ <mm:ss.xx>`` per segment."""
    title, language = lrc_tag_value(title), lrc_tag_value(language)
    head = [f"[ti:{title}]"] if title else []
    head += [f"[la:{language}]"] if language else []
    head.append("[re:whisper-pipeline (stable-ts alignment)]")
    lines = []
    for s in segments:
        words = [w for w in s.get("words", []) if w["word"].strip()]
        if not words:
            if _text(s):
                lines.append(f"[{lrc_time(s['start'])}]{_text(s)}")
            continue
        body = " ".join(f"<{lrc_time(w['start'])}> {w['word'].strip()}" for w in words)
        lines.append(f"[{lrc_time(words[0]['start'])}]{body} <{lrc_time(words[-1]['end'])}>")
    return "\n".join(head + lines) + "\n"
