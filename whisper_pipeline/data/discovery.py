"""Find the utterances of one language in the uploads folder.

Layout: ``uploads/<lang>/<speaker>/<utt>.<ext>`` with a sidecar ``<utt>.txt``; or a Hugging Face
*audiofolder* ``metadata.csv`` / ``metadata.jsonl`` (columns ``file_name``, ``transcription``,
``language``, ``speaker_id``) anywhere under ``uploads/``, with ``file_name`` relative to it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from whisper_pipeline.text.transcripts import TranscriptError, read_transcript

METADATA_NAMES = ("metadata.csv", "metadata.jsonl")
NOT_AUDIO_SUFFIXES = {".txt", ".csv", ".jsonl", ".json", ".md", ".lock", ".tmp", ".srt", ".vtt", ".yaml", ".yml"}
RESERVED_DIRS = {"duplicates"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class SourceItem:
    file_id: str
    audio: str
    language: str
    speaker: str
    transcript: str | None = None
    transcript_source: str = ""
    transcript_encoding: str = ""
    transcript_encoding_confidence: float | None = None
    source: str = "upload"  # "<extractor>:<id>" for harvested files (from <stem>.source.json), else "upload"
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def make_file_id(lang: str, speaker: str, stem: str) -> str:
    return "-".join(_UNSAFE.sub("_", part).strip("_") or "x" for part in (lang, speaker, stem))


def _is_audio_candidate(path: Path) -> bool:
    name = path.name
    return path.is_file() and not name.startswith(".") and path.suffix.lower() not in NOT_AUDIO_SUFFIXES


def _read_metadata(meta: Path) -> list[tuple[int, dict]]:
    """Rows of an audiofolder metadata file, each with its line number for error messages and the
    file's detected text encoding (``__encoding__``, ``__confidence__``)."""
    decoded = read_transcript(meta)
    found = {"__encoding__": decoded.encoding, "__confidence__": decoded.confidence}
    if meta.suffix == ".csv":
        return [
            (i + 2, {**row, **found}) for i, row in enumerate(csv.DictReader(io.StringIO(decoded.text, newline="")))
        ]
    rows = []
    for lineno, line in enumerate(decoded.text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((lineno, {**json.loads(line), **found}))
            except json.JSONDecodeError as exc:
                rows.append((lineno, {"__error__": f"invalid JSON ({exc.msg})"}))
    return rows


def _metadata_entries(uploads: Path, lang: str, problems: list[str]) -> dict[Path, dict]:
    """Map resolved audio path → metadata row, for rows that belong to ``lang``."""
    metas = [uploads / n for n in METADATA_NAMES if (uploads / n).is_file()]
    lang_dir = uploads / lang
    if lang_dir.is_dir():
        metas += sorted(p for n in METADATA_NAMES for p in lang_dir.rglob(n))
    entries: dict[Path, dict] = {}
    for meta in metas:
        inside_lang_dir = lang_dir in meta.parents
        try:
            rows = _read_metadata(meta)
        except TranscriptError as exc:
            problems.append(str(exc))
            continue
        for lineno, row in rows:
            where = f"{meta}:{lineno}"
            if "__error__" in row:
                problems.append(f"{where}: {row['__error__']}")
                continue
            row_lang = (row.get("language") or "").strip() or (lang if inside_lang_dir else "")
            if not row_lang:
                problems.append(f"{where}: no 'language' column and not under uploads/<lang>/")
                continue
            if row_lang != lang:
                continue
            if not row.get("file_name"):
                problems.append(f"{where}: missing 'file_name'")
                continue
            audio = (meta.parent / row["file_name"]).resolve()
            entries[audio] = {**row, "__where__": where}
    return entries


def find_orphan_transcripts(uploads: str | Path, lang: str, items: list[SourceItem]) -> list[str]:
    """Sidecar ``.txt`` files under ``uploads/<lang>/`` that no audio file claims."""
    lang_dir = Path(uploads).resolve() / lang
    if not lang_dir.is_dir():
        return []
    claimed = {str(Path(i.audio).with_suffix(".txt")) for i in items}
    return sorted(
        str(p.resolve())
        for p in lang_dir.rglob("*.txt")
        if not p.name.startswith(".")
        and str(p.resolve()) not in claimed
        and p.relative_to(lang_dir).parts[0] not in RESERVED_DIRS
    )


def provenance_sidecar(audio: str | Path) -> Path:
    """Where the harvest wrote an audio file's provenance (URL, uploader/channel, licence, time)."""
    return Path(audio).with_suffix(".source.json")


def read_provenance(audio: str | Path) -> dict | None:
    """The provenance of a harvested file, or None (a local upload, or an unreadable sidecar)."""
    sidecar = provenance_sidecar(audio)
    if not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _provenance_source(audio: Path) -> str:
    """``<extractor>:<id>`` from a harvested file's provenance sidecar, else ``upload``."""
    meta = read_provenance(audio)
    if meta is None:
        return "upload"
    extractor = meta.get("extractor_key") or meta.get("extractor") or "source"
    return f"{extractor}:{meta['id']}" if meta.get("id") else str(meta.get("source_url") or "upload")


def discover(uploads: str | Path, lang: str) -> tuple[list[SourceItem], list[str]]:
    """All candidate audio files for ``lang`` and the problems found in metadata files."""
    uploads = Path(uploads).resolve()
    problems: list[str] = []
    meta = _metadata_entries(uploads, lang, problems)
    candidates: set[Path] = set()
    lang_dir = uploads / lang
    if lang_dir.is_dir():
        for path in lang_dir.rglob("*"):
            rel = path.relative_to(lang_dir)
            if rel.parts and rel.parts[0] in RESERVED_DIRS:
                continue
            if _is_audio_candidate(path) and path.name not in METADATA_NAMES:
                candidates.add(path.resolve())
    for audio, row in meta.items():
        if audio.is_file():
            candidates.add(audio)
        else:
            problems.append(f"{row['__where__']}: file_name {row['file_name']!r} does not exist ({audio})")

    items: list[SourceItem] = []
    seen_ids: set[str] = set()
    for audio in sorted(candidates):
        row = meta.get(audio)
        try:
            rel = audio.relative_to(lang_dir)
            dir_speaker = rel.parts[0] if len(rel.parts) > 1 else ""
        except ValueError:
            dir_speaker = ""
        speaker = (row or {}).get("speaker_id") or dir_speaker or "unknown"
        speaker = str(speaker).strip()
        file_id = make_file_id(lang, speaker, audio.stem)
        if file_id in seen_ids:
            file_id += "-" + hashlib.sha1(str(audio).encode()).hexdigest()[:8]
        seen_ids.add(file_id)
        item = SourceItem(
            file_id=file_id,
            audio=str(audio),
            language=lang,
            speaker=speaker,
            source=str((row or {}).get("source") or "").strip() or _provenance_source(audio),
        )
        if row is not None and (row.get("transcription") or "").strip():
            item.transcript = str(row["transcription"]).strip()
            item.transcript_source = row["__where__"]
            item.transcript_encoding, item.transcript_encoding_confidence = row["__encoding__"], row["__confidence__"]
        else:
            sidecar = audio.with_suffix(".txt")
            if sidecar.is_file():
                try:
                    item.transcript, item.transcript_encoding, item.transcript_encoding_confidence = read_transcript(
                        sidecar
                    )
                    item.transcript_source = str(sidecar)
                except TranscriptError as exc:
                    item.problems.append(str(exc))
        items.append(item)
    return items, problems
