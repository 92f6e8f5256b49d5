"""What the dataset asset checks judge, as plain functions over inventory rows and manifest lines.

Rows are matched to manifest lines by file id, never by content hash: byte-identical copies share a
hash but not a status (the kept copy is ``ok``, the others ``duplicate``), so a hash lookup would judge
the kept original by whichever copy was inventoried last.
"""

from __future__ import annotations

from collections.abc import Iterable


def untrainable_training_lines(inventory: Iterable[dict], lines: Iterable[dict]) -> list[str]:
    """Train lines without a transcript or whose file the inventory did not accept, each with why."""
    rows = {r["file_id"]: r for r in inventory}
    problems = []
    for line in lines:
        if line["split"] != "train":
            continue
        row = rows.get(line["id"])
        if not str(line.get("transcript") or "").strip():
            problems.append(f"{line['id']}: empty transcript")
        elif row is not None and row["status"] != "ok":
            problems.append(f"{line['id']}: {row['status']} ({row.get('reason') or row.get('reason_code') or 'no reason'})")
    return problems


def recordings_in_two_splits(inventory: Iterable[dict], lines: Iterable[dict], judged: Iterable[dict]) -> list[str]:
    """Lines of ``judged`` whose recording (itself, an exact or a re-encoded copy) is also in another split
    among ``lines``. Every copy maps to its kept original, so copies and originals compare equal."""
    rows = list(inventory)
    canonical = {r["file_id"]: r.get("duplicate_of") or r["file_id"] for r in rows}
    by_hash: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: bool(r.get("duplicate_of"))):  # a hash maps to the kept copy's original
        if r.get("sha256"):
            by_hash.setdefault(r["sha256"], canonical[r["file_id"]])

    def key(line: dict) -> str:
        return by_hash.get(line.get("sha256") or "") or canonical.get(line["id"], line["id"])

    splits_of: dict[str, dict[str, str]] = {}
    for line in lines:
        splits_of.setdefault(key(line), {}).setdefault(line["split"], line["id"])
    leaks = []
    for line in judged:
        others = {s: i for s, i in splits_of.get(key(line), {}).items() if s != line["split"]}
        leaks += [f"{line['id']} ({line['split']}) is the same recording as {i} ({s})" for s, i in sorted(others.items())]
    return leaks


def speakers_in_two_splits(lines: Iterable[dict]) -> list[str]:
    """``lang/group: splits`` for every speaker (or fallback group) found in more than one split."""
    seen: dict[tuple[str, str], set[str]] = {}
    for line in lines:
        seen.setdefault((line["language"], line.get("group") or line["speaker"]), set()).add(line["split"])
    return sorted(f"{lang}/{group}: {', '.join(sorted(s))}" for (lang, group), s in seen.items() if len(s) > 1)
