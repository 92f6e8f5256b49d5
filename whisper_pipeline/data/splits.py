"""Seeded, speaker-disjoint train/validation/test splits.

Speakers (not files) are assigned to splits, so the test set measures how the model does on
voices it never heard. Same inputs + same seed ⇒ the same split, byte for byte.
"""

from __future__ import annotations

import random
from collections import defaultdict

SPLITS = ("train", "validation", "test")


def assign_speakers(speakers: list[str], seed: int, lang: str, validation_ratio: float, test_ratio: float) -> dict[str, str]:
    """Map speaker → split. With ≥3 speakers every split gets at least one."""
    ordered = sorted(set(speakers))
    random.Random(f"{seed}:{lang}").shuffle(ordered)
    n = len(ordered)
    if n >= 3:
        n_test = max(1, round(n * test_ratio))
        n_val = max(1, round(n * validation_ratio))
        n_test, n_val = min(n_test, n - 2), min(n_val, n - 1 - min(n_test, n - 2))
    elif n == 2:
        n_test, n_val = 1, 0
    else:
        n_test, n_val = 0, 0
    assignment = {}
    for i, speaker in enumerate(ordered):
        assignment[speaker] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return assignment


def make_splits(rows: list[dict], lang: str, seed: int = 13, validation_ratio: float = 0.1,
                test_ratio: float = 0.1) -> dict[str, list[dict]]:
    """Manifest lines per split: id, audio, transcript, duration, language, speaker, split."""
    assignment = assign_speakers([r["speaker"] for r in rows], seed, lang, validation_ratio, test_ratio)
    out: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["file_id"]):
        split = assignment[r["speaker"]]
        out[split].append({
            "id": r["file_id"],
            "audio": r["audio"],
            "transcript": r["transcript_norm"],
            "duration": r["duration_s"],
            "language": lang,
            "speaker": r["speaker"],
            "split": split,
            "sha256": r["sha256"],
        })
    return {s: out.get(s, []) for s in SPLITS}


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
