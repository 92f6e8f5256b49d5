"""Pseudo-labels: the review queue's confident drafts used as training text, off unless asked for.

A draft is used only when its score reaches the threshold, it has text, no person's transcript has been
saved for it since (that one wins, through the next intake), it fits Whisper's 30 s window, and its speaker
is not in the language's validation or test split (training on a held-out speaker's voice would flatter
the evaluation). Each line says it is one: ``pseudo_label: true`` with its score and drafting model, so the
run manifest can count them and a later run can leave them out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.audio.inspect import MAX_TRAIN_DURATION_S
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.text.normalize import normalize_transcript

PSEUDO_LABEL = "pseudo_label"  # the manifest line's marker (in ``ManifestLine.extra``)


@dataclass
class Selection:
    """The chosen queue rows and, per reason, the files left out."""

    chosen: list[dict] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def select(rows: list[dict], min_score: float, held_out_speakers: set[str]) -> Selection:
    """The review-queue rows (``queue.read_queue``) fit to train on, see the module docstring."""
    selection = Selection()
    for row in rows:
        if row["score"] is None or row["score"] < min_score:
            selection.skipped["below_threshold"].append(row["file"])
        elif not normalize_transcript(row["draft"] or ""):
            selection.skipped["empty_draft"].append(row["file"])
        elif Path(row["transcript_path"]).exists():
            selection.skipped["transcript_saved"].append(row["file"])
        elif row["speaker"] in held_out_speakers:
            selection.skipped["held_out_speaker"].append(row["file"])
        elif (row["duration_s"] or 0.0) > MAX_TRAIN_DURATION_S:
            selection.skipped["longer_than_30s"].append(row["file"])
        elif not Path(row["audio"]).is_file():
            selection.skipped["audio_missing"].append(row["file"])
        else:
            selection.chosen.append(row)
    return selection


def pseudo_label_line(row: dict, lang: str, audio_16k: Path, duration: float) -> ManifestLine:
    """The training line of a chosen row: its 16 kHz audio, the normalized draft, marked as a pseudo-label."""
    return ManifestLine(
        id=row["file_id"],
        audio=str(audio_16k),
        transcript=normalize_transcript(row["draft"]),
        duration=round(duration, 3),
        language=lang,
        speaker=row["speaker"],
        split="train",
        source=row["source"] or "upload",
        sha256=row["sha256"],
        source_audio=row["audio"],
        extra={PSEUDO_LABEL: True, "pseudo_label_score": row["score"], "pseudo_label_model": row["model"]},
    )


def summary(lines: list[ManifestLine], threshold: float, enabled: bool) -> dict:
    """What a run trained on of them: count, hours, threshold (for the run manifest and the metadata)."""
    marked = [l for l in lines if l.extra.get(PSEUDO_LABEL)]
    return {
        "enabled": enabled,
        "threshold": threshold,
        "count": len(marked),
        "hours": round(sum(l.duration for l in marked) / 3600, 4),
    }
