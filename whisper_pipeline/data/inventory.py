"""The inventory: every candidate file decoded and classified, duplicates found, problems named.

Incremental: results are cached by content hash (SHA-256) and the hash by (path, size, mtime), so
a re-run only stats unchanged files, and decodes only new or changed content. A renamed or copied
file is recognised by its hash and not decoded again.
"""

from __future__ import annotations

import bisect
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.audio.fingerprint import from_hex, same_recording
from whisper_pipeline.audio.inspect import AudioCheck, check_audio, check_audio_ffmpeg, sha256_file
from whisper_pipeline.data.discovery import SourceItem, make_file_id
from whisper_pipeline.io import write_json
from whisper_pipeline.parallel import ParallelSettings, map_files
from whisper_pipeline.text.language import guess
from whisper_pipeline.text.normalize import normalize_for_eval

INVENTORY_COLUMNS = [
    "file_id",
    "filename",
    "size_bytes",
    "duration_s",
    "sample_rate",
    "channels",
    "codec",
    "transcript_present",
    "transcript_encoding",
    "transcript_encoding_confidence",
    "chars_per_second",
    "language",
    "language_guess",
    "dialect",
    "snr_db",
    "speaker",
    "source",
    "sha256",
    "duplicate",
    "duplicate_of",
    "duplicate_kind",
    "status",
    "reason_code",
    "reason",
    "flags",
]
CHECK_FIELDS = (
    "size_bytes",
    "duration_s",
    "sample_rate",
    "channels",
    "codec",
    "active_fraction",
    "clipped_fraction",
    "peak_dbfs",
    "flags",
    "fingerprint",
    "snr_db",
)
LOSSLESS_CODECS = {"flac", "alac", "wavpack", "ape", "tta"}
LOW_ENCODING_CONFIDENCE = 0.9  # below this a transcript's encoding was a close call between code pages
CACHE_VERSION = 4  # bump when CHECK_FIELDS change: old entries are then re-checked


@dataclass
class IntakeRules:
    """Plausibility band for transcript length: characters (without spaces) per second of audio."""

    min_chars_per_second: float = field(
        default=2.0, metadata={"help": "Fewer characters (without spaces) per second of audio: transcript too short"}
    )
    max_chars_per_second: float = field(
        default=30.0, metadata={"help": "More characters (without spaces) per second of audio: transcript too long"}
    )


class IntakeCache:
    """``{"by_hash": {sha256: check}, "by_path": {path: [size, mtime_ns, sha256]}}`` as JSON."""

    def __init__(self, path: Path):
        self.path = path
        data = json.loads(path.read_text()) if path.is_file() else {}
        if data.get("version") != CACHE_VERSION:
            data = {}
        self.by_hash: dict[str, dict] = data.get("by_hash", {})
        self.by_path: dict[str, list] = data.get("by_path", {})
        self.kept_copy: dict[str, str] = data.get("kept_copy", {})  # dedupe decisions by content hash
        self.decoded = self.hashed = 0

    def _record(self, sha: str, result: AudioCheck) -> None:
        self.decoded += 1
        self.by_hash[sha] = {
            "status": result.status,
            "detail": result.detail,
            **{k: getattr(result, k) for k in CHECK_FIELDS},
        }

    def check_many(
        self,
        audios: list[str],
        parallel: ParallelSettings | None = None,
        progress: Callable[[int, int], None] | None = None,
        check: Callable[[tuple[str, str]], AudioCheck] | None = None,
    ) -> dict[str, tuple[str, dict]]:
        """``check`` of every file, the decoding (the slow part) in worker processes or on Ray (``parallel``):
        files are hashed here, and each content not seen before is decoded once, whatever its copies. A file
        whose in-process check fails (its worker killed by a decoder crash, past the retries) is checked again
        with the ffmpeg CLI, in a subprocess, so it gets a status and message like any other and the rest go on."""
        new: dict[str, str] = {}  # content hash → the one file decoded for it
        for audio in audios:
            st = os.stat(audio)
            known = self.by_path.get(audio)
            if known and known[:2] == [st.st_size, st.st_mtime_ns] and known[2] in self.by_hash:
                continue
            sha = sha256_file(audio)
            self.hashed += 1
            self.by_path[audio] = [st.st_size, st.st_mtime_ns, sha]
            if sha not in self.by_hash:
                new.setdefault(sha, audio)
        offset = len(audios) - len(new)
        outcomes = map_files(
            check or _check_hashed,
            [(audio, sha) for sha, audio in new.items()],
            settings=parallel,
            progress=(lambda n, _: progress(offset + n, len(audios))) if progress else None,
        )
        for (sha, audio), outcome in zip(new.items(), outcomes):
            self._record(sha, outcome.value if outcome.error is None else check_audio_ffmpeg(audio, sha256=sha))
        if progress and not new:
            progress(len(audios), len(audios))
        return {audio: (self.by_path[audio][2], self.by_hash[self.by_path[audio][2]]) for audio in audios}

    def save(self) -> None:
        write_json(
            self.path,
            {"version": CACHE_VERSION, "by_hash": self.by_hash, "by_path": self.by_path, "kept_copy": self.kept_copy},
        )


def _transcript_problem(item: SourceItem, duration: float, rules: IntakeRules) -> tuple[str, str, float | None]:
    """(reason code, human reason, characters per second)."""
    if item.transcript is None:
        detail = f" ({'; '.join(item.problems)})" if item.problems else ""
        return "no_transcript", "no transcript" + detail, None
    chars = len(item.transcript.replace(" ", ""))
    if chars == 0:
        return "empty_transcript", f"empty transcript ({item.transcript_source})", 0.0
    if duration <= 0:
        return "", "", None
    cps = round(chars / duration, 2)
    if cps > rules.max_chars_per_second:
        return (
            "transcript_too_long",
            f"transcript too long for the audio ({cps} chars/s > {rules.max_chars_per_second})",
            cps,
        )
    if cps < rules.min_chars_per_second:
        return (
            "transcript_too_short",
            f"transcript too short for the audio ({cps} chars/s < {rules.min_chars_per_second})",
            cps,
        )
    return "", "", cps


def _keeper_rank(row: dict) -> tuple:
    """Of several copies keep a lossless one if any, else the oldest (re-encodes are usually newer)."""
    lossless = row["codec"] in LOSSLESS_CODECS or str(row["codec"]).startswith("pcm_")
    return (not lossless, row["mtime_ns"], len(row["audio"]), row["audio"])


def _compatible_transcripts(a: dict, b: dict) -> bool:
    """Copies of one recording carry the same words (or one has no transcript). This keeps the same
    speaker reading two near-identical prompts ("broj 1" / "broj 2") from looking like a re-encode."""
    ta, tb = a.get("transcript"), b.get("transcript")
    return not ta or not tb or normalize_for_eval(ta) == normalize_for_eval(tb)


def mark_duplicates(rows: list[dict], previous: dict[str, str] | None = None) -> dict[str, str]:
    """Flag exact copies (same SHA-256) and re-encoded copies (same fingerprint, similar length).

    ``previous`` maps content hash → the hash of the copy kept for it in an earlier run; those
    decisions are reused (and stay stable), so only new content is compared against the keepers.
    Returns the updated map, to be saved for the next run.
    """
    previous = previous or {}
    usable = sorted((r for r in rows if r["audio_status"] == "ok"), key=_keeper_rank)
    representative: dict[str, dict] = {}
    for row in usable:
        first = representative.setdefault(row["sha256"], row)
        if first is not row:
            row["duplicate_of"], row["duplicate_kind"] = first["file_id"], "exact"

    decision: dict[str, str] = {}
    new: list[dict] = []
    for sha, row in representative.items():
        keeper = previous.get(sha)
        if keeper == sha or (keeper in representative and previous.get(keeper) == keeper):
            decision[sha] = keeper
        else:
            new.append(row)
    keepers = sorted((representative[sha]["duration_s"], sha) for sha, k in decision.items() if k == sha)
    fingerprints: dict[str, object] = {}

    def fp(sha: str):
        if sha not in fingerprints:
            fingerprints[sha] = from_hex(representative[sha]["fingerprint"])
        return fingerprints[sha]

    for row in new:  # already in keeper order
        window = max(0.25, 0.02 * row["duration_s"])
        lo = bisect.bisect_left(keepers, (row["duration_s"] - window, ""))
        hi = bisect.bisect_right(keepers, (row["duration_s"] + window, "\uffff"))
        match = next(
            (
                k
                for _, k in keepers[lo:hi]
                if _compatible_transcripts(row, representative[k]) and same_recording(fp(row["sha256"]), fp(k))
            ),
            None,
        )
        decision[row["sha256"]] = match or row["sha256"]
        if match is None:
            bisect.insort(keepers, (row["duration_s"], row["sha256"]))
    for sha, keeper in decision.items():
        if keeper != sha:
            row = representative[sha]
            row["duplicate_of"], row["duplicate_kind"] = representative[keeper]["file_id"], "re-encoded"
    for row in rows:
        row["duplicate"] = bool(row.get("duplicate_of"))
    return decision


def build_inventory(
    items: list[SourceItem],
    uploads: Path,
    cache: IntakeCache,
    rules: IntakeRules | None = None,
    orphan_transcripts: list[str] = (),
    progress: Callable[[int, int], None] | None = None,
    parallel: ParallelSettings | None = None,
) -> list[dict]:
    """One row per file (and per orphan transcript), with status ``ok``, ``duplicate`` or ``unusable``; new
    content is decoded in worker processes or on Ray (``parallel``)."""
    rules = rules or IntakeRules()
    rows: list[dict] = []
    checked = cache.check_many([item.audio for item in items], parallel, progress)
    for item in items:
        sha, check = checked[item.audio]
        transcript_code, transcript_problem, cps = _transcript_problem(item, check["duration_s"], rules)
        reasons = (
            [f"{check['status']}: {check['detail']}" if check["detail"] else check["status"]]
            if check["status"] != "ok"
            else []
        )
        if transcript_problem:
            reasons.append(transcript_problem)
        reason_code = check["status"] if check["status"] != "ok" else transcript_code
        language = guess(item.transcript or "")
        flags = list(check["flags"])
        if (
            item.transcript_encoding_confidence is not None
            and item.transcript_encoding_confidence < LOW_ENCODING_CONFIDENCE
        ):
            flags.append(
                f"transcript read as {item.transcript_encoding} with confidence {item.transcript_encoding_confidence}: "
                f"check its letters"
            )
        if language.language and language.language != item.language:
            flags.append(
                f"language guess {language.language} differs from declared {item.language} "
                f"({'; '.join(language.evidence)})"
            )
        rows.append(
            {
                **item.as_dict(),
                **check,
                "sha256": sha,
                "filename": os.path.relpath(item.audio, uploads),
                "mtime_ns": os.stat(item.audio).st_mtime_ns,
                "transcript_present": item.transcript is not None,
                "chars_per_second": cps,
                "language_guess": language.language or "",
                "dialect": language.dialect,
                "audio_status": check["status"],
                "audio_detail": check["detail"],
                "reasons": reasons,
                "reason_code": reason_code,
                "flags": flags,
                "duplicate_of": "",
                "duplicate_kind": "",
            }
        )
    cache.kept_copy = mark_duplicates(rows, cache.kept_copy)
    for row in rows:
        if row["reasons"]:
            row["status"], row["reason"] = "unusable", "; ".join(row["reasons"])
        elif row["duplicate"]:
            row["status"], row["reason"] = "duplicate", f"{row['duplicate_kind']} copy of {row['duplicate_of']}"
            row["reason_code"] = f"duplicate_{row['duplicate_kind'].replace('-', '_')}"
        else:
            row["status"], row["reason"] = "ok", ""
        del row["reasons"]
    for path in orphan_transcripts:
        rel = Path(os.path.relpath(path, uploads))
        rows.append(
            {
                **dict.fromkeys(INVENTORY_COLUMNS),
                "transcript_encoding": "",
                "transcript_encoding_confidence": None,
                "transcript_source": path,
                "file_id": make_file_id(rel.parts[0], "orphan", "-".join(rel.with_suffix("").parts[1:])),
                "source": "upload",
                "filename": str(rel),
                "audio": "",
                "language": rel.parts[0],
                "speaker": "",
                "transcript": None,
                "transcript_present": True,
                "size_bytes": os.stat(path).st_size,
                "duration_s": 0.0,
                "sha256": "",
                "duplicate": False,
                "duplicate_of": "",
                "duplicate_kind": "",
                "audio_status": "missing",
                "status": "unusable",
                "reason": "orphan transcript: no audio file next to it",
                "flags": [],
                "reason_code": "orphan_transcript",
                "language_guess": "",
                "dialect": "",
            }
        )
    return rows


def summarize_inventory(rows: list[dict]) -> dict:
    usable = [r for r in rows if r["status"] == "ok"]
    return {
        "files": len(rows),
        "usable": len(usable),
        "unusable": sum(r["status"] == "unusable" for r in rows),
        "duplicates": sum(r["duplicate"] for r in rows),
        "without_transcript": sum(not r["transcript_present"] for r in rows),
        "flagged": sum(bool(r["flags"]) for r in rows),
        "transcript_encodings": dict(
            sorted(Counter(r["transcript_encoding"] for r in rows if r["transcript_encoding"]).items())
        ),
        "usable_hours": round(sum(r["duration_s"] for r in usable) / 3600, 4),
        "speakers": len({r["speaker"] for r in usable}),
    }


def inventory_table_row(row: dict) -> dict:
    """The CSV/Parquet view of a row: lists joined, everything else as is."""
    return {c: "; ".join(row.get(c) or []) if c == "flags" else row.get(c) for c in INVENTORY_COLUMNS}


def _check_hashed(item: tuple[str, str]):
    """``check_audio`` of a file whose content hash is already known (so the worker reads it once, to decode)."""
    audio, sha = item
    return check_audio(audio, sha256=sha)
