"""The review queue of one language: its transcript-less audio (as the intake recorded it), a draft of
each by one model, and the drafts ranked least confident first, with the sidecar ``.txt`` path where a
person's corrected transcript makes the next intake take the file in.

Incremental: drafts are cached by (audio SHA-256, model key), so a file already drafted by the same model
is never transcribed again; a new production model drafts everything afresh. Nothing is ever written
next to the audio: the queue only says where the transcript goes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.io import write_csv, write_json
from whisper_pipeline.review.confidence import confidence

QUEUE_COLUMNS = [
    "rank",
    "file",
    "duration_s",
    "score",
    "avg_logprob",
    "no_speech_prob",
    "compression_ratio",
    "draft",
    "transcript_path",
    "audio",
    "file_id",
    "speaker",
    "source",
    "sha256",
    "model",
]
DRAFTS_VERSION = 1


@dataclass(frozen=True)
class Candidate:
    """One transcript-less recording from the inventory."""

    file_id: str
    file: str  # relative to uploads/, as the inventory names it
    audio: str  # absolute path
    duration_s: float
    speaker: str
    source: str
    sha256: str

    @property
    def transcript_path(self) -> Path:
        """The sidecar the intake reads (``data/discovery.py``): the audio's name with ``.txt``."""
        return Path(self.audio).with_suffix(".txt")


@dataclass
class Selection:
    """The candidates, and the files left out with why (a duplicate, or a transcript already saved)."""

    candidates: list[Candidate] = field(default_factory=list)
    awaiting_intake: list[str] = field(default_factory=list)  # a .txt is there now: the next intake takes it
    duplicates: list[str] = field(default_factory=list)


def transcriptless(inventory: list[dict]) -> Selection:
    """The inventory's audio that decodes fine but has no transcript (``reason_code`` ``no_transcript``): one
    entry per content (copies of a recording are drafted once), copies of a transcribed file left out."""
    selection = Selection()
    seen: set[str] = set()
    for row in sorted(inventory, key=lambda r: r.get("filename") or ""):
        if row.get("reason_code") != "no_transcript" or row.get("audio_status") != "ok":
            continue
        if row.get("duplicate_of") or row["sha256"] in seen:
            selection.duplicates.append(row["filename"])
            continue
        seen.add(row["sha256"])
        candidate = Candidate(
            file_id=row["file_id"],
            file=row["filename"],
            audio=row["audio"],
            duration_s=float(row.get("duration_s") or 0.0),
            speaker=row.get("speaker") or "",
            source=row.get("source") or "upload",
            sha256=row["sha256"],
        )
        if candidate.transcript_path.exists():
            selection.awaiting_intake.append(row["filename"])
        else:
            selection.candidates.append(candidate)
    return selection


class DraftCache:
    """``{"version", "drafts": {"<sha256>|<model key>": draft}}`` as JSON, written atomically."""

    def __init__(self, path: Path):
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except json.JSONDecodeError:
            data = {}  # a damaged cache only costs re-transcription
        self.drafts: dict[str, dict] = data.get("drafts", {}) if data.get("version") == DRAFTS_VERSION else {}

    @staticmethod
    def key(sha256: str, model_key: str) -> str:
        return f"{sha256}|{model_key}"

    def get(self, sha256: str, model_key: str) -> dict | None:
        return self.drafts.get(self.key(sha256, model_key))

    def put(self, sha256: str, model_key: str, draft: dict) -> None:
        self.drafts[self.key(sha256, model_key)] = draft

    def save(self, keep: set[str]) -> None:
        """Write the cache, keeping only drafts of the content hashes in ``keep`` (files still waiting)."""
        self.drafts = {k: v for k, v in self.drafts.items() if k.split("|", 1)[0] in keep}
        write_json(self.path, {"version": DRAFTS_VERSION, "drafts": self.drafts})


Transcribe = Callable[[Candidate], dict]
"""Transcribe one candidate: the engine's answer (``text``, ``segments`` with their statistics, ``backend``)."""


def draft_of(candidate: Candidate, transcribe: Transcribe, model_key: str) -> dict:
    """A fresh draft: the text, the confidence measures and score, which model and backend, and when."""
    result = transcribe(candidate)
    measures = confidence(result["segments"])
    return {
        "draft": " ".join((result.get("text") or "").split()),
        **measures.as_dict(),
        "segments": len(result["segments"]),
        "model": model_key,
        "backend": result.get("backend", ""),
        "drafted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass
class QueueResult:
    rows: list[dict]
    drafted: int = 0
    reused: int = 0
    failed: list[dict] = field(default_factory=list)  # {"file", "reason"}


def build_queue(
    candidates: list[Candidate],
    cache: DraftCache,
    model_key: str,
    transcribe: Transcribe,
    progress: Callable[[int, int], None] | None = None,
) -> QueueResult:
    """Draft every candidate not yet drafted by ``model_key`` (a file that cannot be transcribed is listed in
    ``failed`` with the error, and the others go on), then rank: least confident first (ties by file)."""
    result = QueueResult(rows=[])
    for n, c in enumerate(candidates, 1):
        draft = cache.get(c.sha256, model_key)
        if draft is None:
            try:
                draft = draft_of(c, transcribe, model_key)
            except Exception as exc:  # noqa: BLE001 - one bad file must not hide the others' drafts
                result.failed.append({"file": c.file, "reason": f"{type(exc).__name__}: {exc}"})
                continue
            cache.put(c.sha256, model_key, draft)
            result.drafted += 1
        else:
            result.reused += 1
        result.rows.append(
            {
                "file": c.file,
                "duration_s": round(c.duration_s, 3),
                "score": draft["score"],
                "avg_logprob": draft["avg_logprob"],
                "no_speech_prob": draft["no_speech_prob"],
                "compression_ratio": draft["compression_ratio"],
                "draft": draft["draft"],
                "transcript_path": str(c.transcript_path),
                "audio": c.audio,
                "file_id": c.file_id,
                "speaker": c.speaker,
                "source": c.source,
                "sha256": c.sha256,
                "model": model_key,
            }
        )
        if progress:
            progress(n, len(candidates))
    result.rows.sort(key=lambda r: (r["score"], r["file"]))
    for rank, row in enumerate(result.rows, 1):
        row["rank"] = rank
    return result


def write_queue(path: Path, rows: list[dict]) -> Path:
    """``review_queue.csv`` (``QUEUE_COLUMNS``; empty measures as empty cells), atomically."""
    return write_csv(
        path, [{k: ("" if r.get(k) is None else r.get(k)) for k in QUEUE_COLUMNS} for r in rows], QUEUE_COLUMNS
    )


def read_queue(path: Path) -> list[dict]:
    """The rows of a ``review_queue.csv`` with numbers as numbers (empty measures as None); [] if missing."""
    import csv

    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["rank"] = int(row["rank"])
        for key in ("duration_s", "score", "avg_logprob", "no_speech_prob", "compression_ratio"):
            row[key] = float(row[key]) if row[key] != "" else None
    return rows
