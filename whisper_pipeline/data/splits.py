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
  hours; then *new* groups with the lowest hash are moved into it from the split that can best
  spare one (train from 1 group, test from 2, validation from 3 are always filled when new groups
  allow), never groups assigned before. ``empty_splits`` in the summary says why a split stays empty.

Same inputs, seed and assignment file ⇒ byte-identical manifests.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.io import write_json
from whisper_pipeline.workspace import SPLITS

UNKNOWN_SPEAKERS = {"", "unknown", "none", "anonymous", "x", "n/a", "na"}


@dataclass
class SplitPolicy:
    """How groups are assigned to splits (see the module doc)."""

    seed: int = field(
        default=13, metadata={"help": "Same seed + same inputs ⇒ identical splits; a new seed reshuffles"}
    )
    validation_ratio: float = field(default=0.1, metadata={"help": "Share of speaker groups hashed into validation"})
    test_ratio: float = field(default=0.1, metadata={"help": "Share of speaker groups hashed into test"})
    min_test_hours: float = field(
        default=0.0, metadata={"help": "Per language; new speakers are moved into test to reach it"}
    )

    def __post_init__(self) -> None:
        if not (
            0 <= self.validation_ratio < 1 and 0 <= self.test_ratio < 1 and self.validation_ratio + self.test_ratio < 1
        ):
            raise ValueError(
                f"split ratios must be in [0, 1) and sum below 1: validation {self.validation_ratio}, "
                f"test {self.test_ratio}"
            )


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

    @classmethod
    def load(cls, path: Path, seed: int) -> tuple[Assignments, bool]:
        """``from_json`` of the file at ``path`` (none yet: nothing remembered)."""
        return cls.from_json(json.loads(path.read_text()) if path.is_file() else None, seed)

    def save(self, path: Path) -> Path:
        return write_json(path, self.to_json())


@dataclass
class SplitSettings(SplitPolicy):
    """The split policy, and the size of the smoke-test subset (``small_subset``)."""

    small_per_split: int = field(default=8, metadata={"help": "Lines per split and language in run1_small.jsonl"})


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


def needed_splits(n_groups: int, policy: SplitPolicy) -> dict[str, bool]:
    """Which splits must not be empty: train from 1 group, test from 2, validation from 3 (when its ratio > 0)."""
    return {
        "train": n_groups >= 1,
        "test": policy.test_ratio > 0 and n_groups >= 2,
        "validation": policy.validation_ratio > 0 and n_groups >= 3,
    }


def assign_groups(
    hours: dict[str, float],
    lang: str,
    policy: SplitPolicy,
    remembered: Assignments,
    moves: list[tuple[str, str, str]] | None = None,
) -> dict[str, str]:
    """Group → split for every group in ``hours`` (group → hours of audio).

    New groups take their split from the hash. Then every needed split that is empty gets one *new*
    group, taken from the split with the most groups that can spare one (train first on a tie), so
    whichever splits the hash picked, 3 groups give one per split. Each move is appended to ``moves``
    as (group, from, to)."""
    moves = moves if moves is not None else []
    assignment = {g: remembered.groups[g] for g in hours if g in remembered.groups}
    new = sorted((g for g in hours if g not in assignment), key=lambda g: (group_hash(policy.seed, lang, g), g))
    for g in new:
        u = group_hash(policy.seed, lang, g)
        assignment[g] = (
            "test"
            if u < policy.test_ratio
            else "validation"
            if u < policy.test_ratio + policy.validation_ratio
            else "train"
        )
    needed = needed_splits(len(hours), policy)

    def count(split: str) -> int:
        return sum(s == split for s in assignment.values())

    def move(g: str, to: str) -> None:
        moves.append((g, assignment[g], to))
        assignment[g] = to

    for split in ("train", "test", "validation"):
        if not needed[split] or count(split):
            continue
        donors = [
            d
            for d in ("train", "validation", "test")
            if d != split and count(d) > (1 if needed[d] else 0) and any(assignment[g] == d for g in new)
        ]
        if donors:
            donor = max(donors, key=lambda d: count(d))  # max keeps the first of equals: train, then validation
            move(next(g for g in new if assignment[g] == donor), split)
    test_hours = sum(h for g, h in hours.items() if assignment[g] == "test")
    while (
        test_hours < policy.min_test_hours
        and count("train") > 1
        and (g := next((g for g in new if assignment[g] == "train"), None))
    ):
        move(g, "test")
        test_hours += hours[g]
    return assignment


def empty_split_reasons(assignment: dict[str, str], new_groups: list[str], policy: SplitPolicy) -> dict[str, str]:
    """Why each empty split is empty, in words a user can act on."""
    n = len(assignment)
    needed = needed_splits(n, policy)
    reasons = {}
    for split, minimum in (("train", 1), ("test", 2), ("validation", 3)):
        if any(s == split for s in assignment.values()):
            continue
        ratio = {"test": policy.test_ratio, "validation": policy.validation_ratio}.get(split, 1.0)
        if ratio == 0:
            reasons[split] = f"{split}_ratio is 0"
        elif not needed[split]:
            reasons[split] = f"only {n} speaker group(s); a {split} split needs at least {minimum}"
        else:
            reasons[split] = (
                f"{n} speaker groups, but none could be moved into {split}: {n - len(new_groups)} were assigned "
                f"in earlier runs and stay put (add speakers, or a new seed reshuffles everything)"
            )
    return reasons


def make_splits(
    rows: list[dict], lang: str, policy: SplitPolicy | None = None, remembered: Assignments | None = None
) -> tuple[dict[str, list[ManifestLine]], Assignments, dict]:
    """(manifest lines per split, updated assignments, summary) of the normalized inventory ``rows``.

    A line has ``group`` (the unit kept in one split) and ``sha256`` (for leak checks) set.
    """
    policy = policy or SplitPolicy()
    remembered = remembered or Assignments(policy.seed)
    grouping = {r["file_id"]: group_of(r) for r in rows}
    hours: dict[str, float] = defaultdict(float)
    for r in rows:
        hours[grouping[r["file_id"]][1]] += r["duration_s"] / 3600
    before = dict(remembered.groups)
    moves: list[tuple[str, str, str]] = []
    assignment = assign_groups(dict(hours), lang, policy, remembered, moves)
    out: dict[str, list[ManifestLine]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["file_id"]):
        kind, group = grouping[r["file_id"]]
        split = assignment[group]
        out[split].append(
            ManifestLine(
                id=r["file_id"],
                audio=r["audio"],
                transcript=r["transcript_norm"],
                duration=r["duration_s"],
                language=lang,
                speaker=r["speaker"],
                split=split,
                source=r.get("source") or "upload",
                group=f"{kind}:{group}",
                sha256=r["sha256"],
            )
        )
    updated = Assignments(policy.seed, {**before, **assignment})
    kinds = defaultdict(int)
    for kind, _ in set(grouping.values()):
        kinds[kind] += 1
    new_groups = sorted(g for g in assignment if g not in before)
    summary = {
        "groups_by_kind": dict(sorted(kinds.items())),
        "new_groups": new_groups,
        "kept_groups": sum(g in before for g in assignment),
        "moved": [f"{g}: {a} → {b}" for g, a, b in moves],
        "empty_splits": empty_split_reasons(assignment, new_groups, policy),
    }
    return {s: out.get(s, []) for s in SPLITS}, updated, summary


def small_subset(split_lines: dict[str, list[ManifestLine]], per_split: int = 8) -> list[ManifestLine]:
    """A few lines per split and speaker round-robin, for smoke runs (``run1_small.jsonl``)."""
    subset = []
    for split in SPLITS:
        by_speaker: dict[str, list[ManifestLine]] = defaultdict(list)
        for line in split_lines[split]:
            by_speaker[line.speaker].append(line)
        queues = [by_speaker[s] for s in sorted(by_speaker)]
        picked = []
        while len(picked) < per_split and any(queues):
            for q in queues:
                if q and len(picked) < per_split:
                    picked.append(q.pop(0))
        subset += picked
    return subset
