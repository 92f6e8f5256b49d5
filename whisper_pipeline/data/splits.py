"""Seeded, speaker-disjoint, stable train/validation/test splits.

Groups of utterances (speakers; when speakers are unknown, the source recording or video, else the
file itself) are assigned to splits, so the test set measures voices the model never heard.

* **By hash**: a group's split follows from ``sha256(seed, language, group)`` mapped to [0, 1):
  below ``test_ratio`` → test, below ``test_ratio + validation_ratio`` → validation, else train.
  The same group always hashes the same, whatever else is in the corpus.
* **Remembered**: assignments are kept in ``split_assignments.json``; a group already assigned is
  never moved, so new data never pulls an old test speaker into training (a scheduled retraining
  cannot leak). Changing the seed is the one way to reshuffle, and it is reported.
* **Small corpora**: pure hashing can leave a split empty, or the test set under its minimum
  hours; then *new* groups with the lowest hash are moved from train into test (then validation),
  never groups assigned before.

Same inputs, seed and assignment file ⇒ byte-identical manifests.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

SPLITS = ("train", "validation", "test")
UNKNOWN_SPEAKERS = {"", "unknown", "none", "anonymous", "x", "n/a", "na"}


@dataclass
class SplitPolicy:
    seed: int = 13
    validation_ratio: float = 0.1
    test_ratio: float = 0.1
    min_test_hours: float = 0.0  # per language; met by moving new groups into test when short

    def __post_init__(self) -> None:
        if not (0 <= self.validation_ratio < 1 and 0 <= self.test_ratio < 1 and self.validation_ratio + self.test_ratio < 1):
            raise ValueError(f"split ratios must be in [0, 1) and sum below 1: validation {self.validation_ratio}, "
                             f"test {self.test_ratio}")


@dataclass
class Assignments:
    """The remembered group → split map of one language (``split_assignments.json``)."""

    seed: int
    groups: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict | None, seed: int) -> tuple[Assignments, bool]:
        """(assignments, reshuffled): a file written with another seed is discarded."""
        if not data:
            return cls(seed), False
        if data.get("seed") != seed:
            return cls(seed), True
        return cls(seed, dict(data.get("groups", {}))), False

    def to_json(self) -> dict:
        return {"seed": self.seed, "groups": dict(sorted(self.groups.items()))}


def group_of(row: dict) -> tuple[str, str]:
    """(grouping kind, group id): the speaker; else the source recording/video; else the file."""
    speaker = str(row.get("speaker") or "").strip()
    if speaker.lower() not in UNKNOWN_SPEAKERS:
        return "speaker", speaker
    source = str(row.get("source") or "").strip()
    if source and source != "upload":
        return "source", source
    return "file", row["file_id"]


def group_hash(seed: int, lang: str, group: str) -> float:
    digest = hashlib.sha256(f"{seed}\x00{lang}\x00{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_groups(hours: dict[str, float], lang: str, policy: SplitPolicy, remembered: Assignments) -> dict[str, str]:
    """Group → split for every group in ``hours`` (group → hours of audio)."""
    assignment = {g: remembered.groups[g] for g in hours if g in remembered.groups}
    new = sorted((g for g in hours if g not in assignment), key=lambda g: (group_hash(policy.seed, lang, g), g))
    for g in new:
        u = group_hash(policy.seed, lang, g)
        assignment[g] = "test" if u < policy.test_ratio else "validation" if u < policy.test_ratio + policy.validation_ratio else "train"

    def movable() -> list[str]:
        return [g for g in new if assignment[g] == "train"]

    def count(split: str) -> int:
        return sum(s == split for s in assignment.values())

    # Never empty train. With 2 groups the second goes to test; with 3 or more every split gets one.
    wanted = [("test", policy.test_ratio > 0 and len(hours) >= 2), ("validation", policy.validation_ratio > 0 and len(hours) >= 3)]
    for split, needed in wanted:
        if needed and count(split) == 0 and movable() and count("train") > 1:
            assignment[movable()[0]] = split
    test_hours = sum(h for g, h in hours.items() if assignment[g] == "test")
    while test_hours < policy.min_test_hours and movable() and count("train") > 1:
        g = movable()[0]
        assignment[g] = "test"
        test_hours += hours[g]
    return assignment


def make_splits(rows: list[dict], lang: str, policy: SplitPolicy | None = None,
                remembered: Assignments | None = None) -> tuple[dict[str, list[dict]], Assignments, dict]:
    """(manifest lines per split, updated assignments, summary).

    A line: ``id``, ``audio``, ``transcript``, ``duration``, ``language``, ``speaker``, ``split``,
    ``source``, ``group`` and ``sha256`` (for leak checks).
    """
    policy = policy or SplitPolicy()
    remembered = remembered or Assignments(policy.seed)
    grouping = {r["file_id"]: group_of(r) for r in rows}
    hours: dict[str, float] = defaultdict(float)
    for r in rows:
        hours[grouping[r["file_id"]][1]] += r["duration_s"] / 3600
    before = dict(remembered.groups)
    assignment = assign_groups(dict(hours), lang, policy, remembered)
    out: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["file_id"]):
        kind, group = grouping[r["file_id"]]
        split = assignment[group]
        out[split].append({
            "id": r["file_id"],
            "audio": r["audio"],
            "transcript": r["transcript_norm"],
            "duration": r["duration_s"],
            "language": lang,
            "speaker": r["speaker"],
            "split": split,
            "source": r.get("source") or "upload",
            "group": f"{kind}:{group}",
            "sha256": r["sha256"],
        })
    updated = Assignments(policy.seed, {**before, **assignment})
    kinds = defaultdict(int)
    for kind, _ in set(grouping.values()):
        kinds[kind] += 1
    summary = {
        "groups_by_kind": dict(sorted(kinds.items())),
        "new_groups": sorted(g for g in assignment if g not in before),
        "kept_groups": sum(g in before for g in assignment),
    }
    return {s: out.get(s, []) for s in SPLITS}, updated, summary


def small_subset(split_rows: dict[str, list[dict]], per_split: int = 8) -> list[dict]:
    """A few lines per split and speaker round-robin, for smoke runs (``run1_small.jsonl``)."""
    subset = []
    for split in SPLITS:
        by_speaker: dict[str, list[dict]] = defaultdict(list)
        for r in split_rows[split]:
            by_speaker[r["speaker"]].append(r)
        queues = [by_speaker[s] for s in sorted(by_speaker)]
        picked = []
        while len(picked) < per_split and any(queues):
            for q in queues:
                if q and len(picked) < per_split:
                    picked.append(q.pop(0))
        subset += picked
    return subset
