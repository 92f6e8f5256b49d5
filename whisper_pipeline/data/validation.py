"""Dedupe and validation: which inventoried files go on to training, and why the others don't."""

from __future__ import annotations

from collections import Counter


def validate_and_dedupe(rows: list[dict]) -> tuple[list[dict], dict]:
    """Keep usable, transcribed, first-seen files. Returns (kept rows, validation report).

    Nothing is moved or deleted: duplicates are flagged and reported with the file they copy.
    """
    kept = [r for r in rows if r["status"] == "ok"]
    rejected = [r for r in rows if r["status"] != "ok"]
    reasons = Counter(r["reason_code"] for r in rejected)
    flagged = Counter(f.split(" (")[0] for r in kept for f in r["flags"])
    report = {
        "files": len(rows),
        "kept": len(kept),
        "rejected": len(rejected),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "kept_hours": round(sum(r["duration_s"] for r in kept) / 3600, 4),
        "kept_but_flagged": dict(sorted(flagged.items())),
        "duplicates": [
            {
                "file": r["filename"],
                "duplicate_of": r["duplicate_of"],
                "kind": r["duplicate_kind"],
                "sha256": r["sha256"],
            }
            for r in rows
            if r["duplicate"]
        ],
        "problems": [
            {"file": r["filename"], "code": r["reason_code"], "reason": r["reason"]}
            for r in rejected
            if r["status"] == "unusable"
        ],
        "flagged": [{"file": r["filename"], "flags": r["flags"]} for r in kept if r["flags"]],
    }
    return kept, report
