"""The inventory: every candidate file, decoded and classified, with a duplicate flag.

Checks are cached by (path, size, mtime): re-running after adding files only decodes the new ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from whisper_pipeline.audio.inspect import check_audio
from whisper_pipeline.data.discovery import SourceItem
from whisper_pipeline.text.language import guess_language

INVENTORY_COLUMNS = [
    "file_id", "filename", "size_bytes", "duration_s", "sample_rate", "channels", "codec",
    "transcript_present", "transcript_encoding", "language", "language_guess", "speaker",
    "sha256", "duplicate", "duplicate_of", "status", "reason",
]


_CHECK_FIELDS = ("size_bytes", "sha256", "duration_s", "sample_rate", "channels", "codec")


def _stat_key(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def build_inventory(
    items: list[SourceItem],
    uploads: Path,
    previous: dict[str, dict] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """One row per file. ``previous`` maps audio path → an earlier row, reused when unchanged."""
    previous = previous or {}
    checked: list[tuple[SourceItem, list[int], dict, str, str]] = []
    for n, item in enumerate(items, 1):
        stat_key = _stat_key(item.audio)
        cached = previous.get(item.audio)
        if cached and cached.get("stat_key") == stat_key:
            check = {k: cached[k] for k in _CHECK_FIELDS}
            status, detail = cached["audio_status"], cached["audio_detail"]
        else:
            result = check_audio(item.audio)
            check = {k: getattr(result, k) for k in _CHECK_FIELDS}
            status, detail = result.status, result.detail
        checked.append((item, stat_key, check, status, detail))
        if progress:
            progress(n, len(items))

    # The oldest copy (then the shortest path) of identical content is the one kept.
    keeper_by_hash: dict[str, str] = {}
    for item, stat_key, check, status, _ in sorted(checked, key=lambda c: (c[1][1], len(c[0].audio), c[0].audio)):
        if status == "ok":
            keeper_by_hash.setdefault(check["sha256"], item.file_id)

    rows: list[dict] = []
    for item, stat_key, check, status, detail in checked:
        reasons = [f"{status}: {detail}" if detail else status] if status != "ok" else []
        if not item.transcript:
            reasons.append("no transcript" + (f" ({'; '.join(item.problems)})" if item.problems else ""))
        keeper = keeper_by_hash.get(check["sha256"], item.file_id) if status == "ok" else item.file_id
        duplicate_of = "" if keeper == item.file_id else keeper
        rows.append({
            **item.as_dict(),
            **check,
            "filename": os.path.relpath(item.audio, uploads),
            "transcript_present": bool(item.transcript),
            "language_guess": guess_language(item.transcript or "") or "",
            "duplicate": bool(duplicate_of),
            "duplicate_of": duplicate_of,
            "audio_status": status,
            "audio_detail": detail,
            "status": "ok" if not reasons and not duplicate_of else ("duplicate" if not reasons else "unusable"),
            "reason": "; ".join(reasons) or (f"same content as {duplicate_of}" if duplicate_of else ""),
            "stat_key": stat_key,
        })
    return rows


def summarize_inventory(rows: list[dict]) -> dict:
    usable = [r for r in rows if r["status"] == "ok"]
    return {
        "files": len(rows),
        "usable": len(usable),
        "unusable": sum(r["status"] == "unusable" for r in rows),
        "duplicates": sum(r["duplicate"] for r in rows),
        "without_transcript": sum(not r["transcript_present"] for r in rows),
        "usable_hours": round(sum(r["duration_s"] for r in usable) / 3600, 4),
        "speakers": len({r["speaker"] for r in usable}),
        "language_guess_disagrees": sum(bool(r["language_guess"]) and r["language_guess"] != r["language"] for r in rows),
    }
