"""What the dataset asset checks judge, as plain functions over inventory rows and manifest lines, and the
readers that fetch those from the workspace layout.

Rows are matched to manifest lines by file id, never by content hash: byte-identical copies share a
hash but not a status (the kept copy is ``ok``, the others ``duplicate``), so a hash lookup would judge
the kept original by whichever copy was inventoried last.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from whisper_pipeline.data.manifests import ManifestLine, read_lines, validate_manifest_lines
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.workspace import LANGUAGES, SPLITS, Workspace


def untrainable_training_lines(inventory: Iterable[dict], lines: Iterable[ManifestLine]) -> list[str]:
    """Train lines without a transcript or whose file the inventory did not accept, each with why."""
    rows = {r["file_id"]: r for r in inventory}
    problems = []
    for line in lines:
        if line.split != "train":
            continue
        row = rows.get(line.id)
        if not str(line.transcript or "").strip():
            problems.append(f"{line.id}: empty transcript")
        elif row is not None and row["status"] != "ok":
            problems.append(
                f"{line.id}: {row['status']} ({row.get('reason') or row.get('reason_code') or 'no reason'})"
            )
    return problems


def recordings_in_two_splits(
    inventory: Iterable[dict], lines: Iterable[ManifestLine], judged: Iterable[ManifestLine]
) -> list[str]:
    """Lines of ``judged`` whose recording (itself, an exact or a re-encoded copy) is also in another split
    among ``lines``. Every copy maps to its kept original, so copies and originals compare equal."""
    rows = list(inventory)
    canonical = {r["file_id"]: r.get("duplicate_of") or r["file_id"] for r in rows}
    by_hash: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: bool(r.get("duplicate_of"))):  # a hash maps to the kept copy's original
        if r.get("sha256"):
            by_hash.setdefault(r["sha256"], canonical[r["file_id"]])

    def key(line: ManifestLine) -> str:
        return by_hash.get(line.sha256 or "") or canonical.get(line.id, line.id)

    splits_of: dict[str, dict[str, str]] = {}
    for line in lines:
        splits_of.setdefault(key(line), {}).setdefault(line.split, line.id)
    leaks = []
    for line in judged:
        others = {s: i for s, i in splits_of.get(key(line), {}).items() if s != line.split}
        leaks += [f"{line.id} ({line.split}) is the same recording as {i} ({s})" for s, i in sorted(others.items())]
    return leaks


def speakers_in_two_splits(lines: Iterable[ManifestLine]) -> list[str]:
    """``lang/group: splits`` for every speaker (or fallback group) found in more than one split."""
    seen: dict[tuple[str, str], set[str]] = {}
    for line in lines:
        seen.setdefault((line.language, line.group or line.speaker), set()).add(line.split)
    return sorted(f"{lang}/{group}: {', '.join(sorted(s))}" for (lang, group), s in seen.items() if len(s) > 1)


@dataclass
class UnusableThreshold:
    max_unusable_fraction: float = field(
        default=0.2, metadata={"help": "Fail when more than this share of files is unusable"}
    )


def inventory_rows(ws: Workspace, lang: str) -> list[dict]:
    """The language's inventory (none before its first intake)."""
    return read_jsonl(path) if (path := ws.inventory(lang)).is_file() else []


def split_lines(ws: Workspace, languages: Iterable[str] = LANGUAGES) -> list[ManifestLine]:
    """Every line of the languages' split manifests (those written so far)."""
    return [
        line
        for l in languages
        for s in SPLITS
        if (p := ws.split_manifest(l, s)).is_file()
        for line in read_lines(p, skip_invalid=True)
    ]


def invalid_split_lines(ws: Workspace, lang: str) -> list[str]:
    """Every invalid line of the language's split manifests (``path:line: what``)."""
    return [
        p for s in SPLITS if (path := ws.split_manifest(lang, s)).is_file() for p in validate_manifest_lines(path)[1]
    ]


def unusable_share(rows: list[dict]) -> tuple[float, int]:
    """(share of inventory rows that are unusable, rounded to 4 places; how many)."""
    unusable = sum(r["status"] == "unusable" for r in rows)
    return (round(unusable / len(rows), 4) if rows else 0.0), unusable


def normalized_fraction(ws: Workspace, lang: str) -> float | None:
    """The share of the language's transcripts that normalized (None before its first normalization)."""
    report = ws.normalization_report(lang)
    return json.loads(report.read_text())["fraction_normalized"] if report.is_file() else None


def languages_by_split(ws: Workspace) -> dict[str, set[str]]:
    """The languages whose manifest of each split has at least one line."""
    return {
        split: {l for l in LANGUAGES if (p := ws.split_manifest(l, split)).is_file() and read_jsonl(p)}
        for split in SPLITS
    }


def split_coverage(present: dict[str, set[str]]) -> dict:
    """Which languages are missing from which split, given ``languages_by_split``: ``missing`` (``{split:
    languages}`` for the incomplete splits), ``languages`` (found in any split), ``not_materialized``."""
    languages = set().union(*present.values())
    return {
        "missing": {split: sorted(languages - langs) for split, langs in present.items() if languages - langs},
        "languages": sorted(languages),
        "not_materialized": sorted(set(LANGUAGES) - languages),
    }
