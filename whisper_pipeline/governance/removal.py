"""Remove a source, a speaker or some files from the workspace, and everything made from them.

``plan_removal`` finds, without changing anything, every file and entry that holds the selected data:
the source files in the uploads (audio, sidecar transcript, provenance, subtitles and cues; their rows in
an audiofolder ``metadata.csv``), copies of them the intake flagged as duplicates, and everything derived:
processed audio, segments, alignment outputs, normalized transcripts, augmented copies (files named after
a removed utterance), the lines of every JSON-lines manifest that name a removed utterance, file, content
hash or speaker, the rows of the inventory tables, the entries of the caches and reports (intake cache,
split assignments, validation, balance and normalization reports, evaluations), and any other derived
text file that mentions them (an evaluation dashboard). ``apply_removal`` records the removal in
``Workspace.removals`` (what the intake consults so the data never comes back), marks the models trained
on it as needing retraining, rewrites the manifests atomically (per-language parts through
``write_language_part``, which rebuilds the combined file) and deletes the files.

Left alone, and listed: the models themselves (marked instead), Dagster's run history, and yt-dlp's
download archive (it is what keeps a removed item from being downloaded again).
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whisper_pipeline.audio.inspect import sha256_file
from whisper_pipeline.data.discovery import METADATA_NAMES, SourceItem, discover, read_provenance
from whisper_pipeline.data.manifests import write_language_part
from whisper_pipeline.data.validation import validate_and_dedupe
from whisper_pipeline.governance.licenses import training_record, write_licences
from whisper_pipeline.io import file_lock, read_jsonl, write_csv, write_json, write_text
from whisper_pipeline.models import registry
from whisper_pipeline.serving.file_store import FILE_ID
from whisper_pipeline.text.transcripts import read_transcript
from whisper_pipeline.workspace import LANGUAGES, SPLITS, LanguageParts, Workspace

TEXT_SUFFIXES = {".txt", ".md", ".html", ".htm", ".log", ".srt", ".vtt", ".lrc", ".yaml", ".yml", ".tsv", ".xml"}
_DERIVED_ID = r"(?:-seg\d{3}|-aug\d+)*"  # segments and augmented copies are named after their utterance


class RemovalError(ValueError):
    """The selector matches nothing, or the workspace cannot be read; the message says which."""


@dataclass
class Recording:
    """A source recording being removed, and why it was selected."""

    file_id: str
    audio: str
    language: str
    speaker: str
    source: str
    sha256: str
    why: str


@dataclass
class Rewrite:
    """A file that keeps its other entries: ``content`` is what it becomes (lines, rows or a document)."""

    path: Path
    kind: str  # jsonl | csv | parquet | json | metadata (a user's audiofolder file) | licences
    removed: int
    content: Any
    columns: list[str] | None = None


@dataclass
class RemovalPlan:
    selector: str
    recordings: list[Recording]
    delete: list[tuple[Path, str]] = field(default_factory=list)  # (file, what it is)
    rewrite: list[Rewrite] = field(default_factory=list)
    untouched: list[tuple[Path, str]] = field(default_factory=list)  # mentions the data, left on purpose
    runs: dict[str, str] = field(default_factory=dict)  # run → why it is affected
    needles: set[str] = field(default_factory=set)
    speakers: list[str] = field(default_factory=list)  # removed completely
    sources: list[str] = field(default_factory=list)  # removed completely (harvested items and source URLs)
    contents: list[str] = field(default_factory=list)  # SHA-256 of every removed recording and stored upload

    @property
    def manifest_lines(self) -> int:
        return sum(r.removed for r in self.rewrite if r.kind == "jsonl")

    def summary(self, ws: Workspace) -> dict:
        rel = lambda p: _rel(ws, p)  # noqa: E731
        return {
            "selector": self.selector,
            "recordings": len(self.recordings),
            "files": [rel(p) for p, _ in self.delete],
            "rewritten": {rel(r.path): r.removed for r in self.rewrite},
            "manifest_lines": self.manifest_lines,
            "affected_runs": dict(self.runs),
            "untouched": {rel(p): why for p, why in self.untouched},
        }


def _rel(ws: Workspace, path: Path) -> str:
    try:
        return str(Path(path).relative_to(ws.root))
    except ValueError:
        return str(path)


# --- which recordings --------------------------------------------------------------------------------


def _matches(selector: str, item: SourceItem, uploads: Path, root: Path) -> str:
    """Why ``item`` is selected ('' if it is not)."""
    meta = read_provenance(item.audio) or {}
    if (selector == item.source and item.source != "upload") or selector in {
        str(meta.get(k)) for k in ("id", "source_url", "webpage_url", "original_url") if meta.get(k)
    }:
        return f"source {selector}"
    if selector == item.speaker:
        return f"speaker {selector}"
    if selector == item.file_id:
        return f"file id {selector}"
    audio = Path(item.audio)
    for form in (os.path.relpath(audio, uploads), os.path.relpath(audio, root), str(audio)):
        if fnmatch.fnmatchcase(form, selector) or fnmatch.fnmatchcase(form, selector.rstrip("/") + "/*"):
            return f"path {selector}"
    return ""


def _inventory(ws: Workspace) -> dict[str, dict]:
    """Every inventoried file's row, by absolute audio path."""
    rows = {}
    for lang in LANGUAGES:
        if ws.inventory(lang).is_file():
            rows.update({r["audio"]: r for r in read_jsonl(ws.inventory(lang)) if r.get("audio")})
    return rows


def select_recordings(ws: Workspace, selector: str) -> tuple[list[Recording], list[SourceItem]]:
    """(the recordings ``selector`` names, plus copies of them, every recording in the uploads)."""
    uploads, root = ws.uploads.resolve(), ws.root.resolve()
    items = [i for lang in LANGUAGES for i in discover(uploads, lang)[0]]
    inventory = _inventory(ws)

    def recording(item: SourceItem, why: str) -> Recording:
        sha = (inventory.get(item.audio) or {}).get("sha256") or sha256_file(item.audio)
        return Recording(item.file_id, item.audio, item.language, item.speaker, item.source, sha, why)

    chosen = {i.audio: recording(i, why) for i in items if (why := _matches(selector, i, uploads, root))}
    chosen |= {  # a content hash (a service file_id is one) selects the uploads holding those bytes
        i.audio: recording(i, f"content {selector}")
        for i in items
        if i.audio not in chosen and (inventory.get(i.audio) or {}).get("sha256") == selector
    }
    if not chosen and not stored_copy(ws, selector):
        raise RemovalError(
            f"{selector!r} matches nothing in {ws.uploads} or the service's file store: give a source URL or id "
            f"(as in a provenance sidecar or the inventory's 'source' column), a speaker, a file id, a path glob "
            f"under uploads/, or a content SHA-256 (a file_id of POST /files)"
        )
    ids, shas = {r.file_id for r in chosen.values()}, {r.sha256 for r in chosen.values()}
    for item in items:  # copies of a removed recording hold the same data
        row = inventory.get(item.audio) or {}
        if item.audio not in chosen and (row.get("duplicate_of") in ids or row.get("sha256") in shas):
            chosen[item.audio] = recording(
                item, f"copy of a removed recording ({row.get('duplicate_of') or 'same content'})"
            )
    return sorted(chosen.values(), key=lambda r: r.audio), items


# --- what holds them ---------------------------------------------------------------------------------


def stored_copy(ws: Workspace, sha256: str) -> bool:
    """Whether the transcription service's file store (``POST /files``) holds content ``sha256``."""
    return bool(FILE_ID.fullmatch(sha256)) and ws.stored_audio(sha256).is_file()


def _stored_files(ws: Workspace, shas: set[str]) -> list[tuple[Path, str]]:
    """The service's stored copies of removed content (named by their SHA-256, the ``file_id``) and what it
    wrote for them (transcriptions, alignments, karaoke under ``outputs/<file_id>/``); the store's index
    entry goes with the JSON rewrites, as the hash is a needle."""
    found = []
    for sha in sorted(s for s in shas if stored_copy(ws, s)):
        found.append((ws.stored_audio(sha).resolve(), "the service's stored upload (POST /files)"))
        outputs = ws.alignment_outputs(sha)
        if outputs.is_dir():
            found += [(p.resolve(), "the service's output for it") for p in sorted(outputs.rglob("*")) if p.is_file()]
    return found


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_leaves(v)]]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _leaves(v)]
    return [value] if isinstance(value, str) else []


class Needles:
    """What marks a string as naming removed data: it is one of ``exact``, or contains one of them (six
    characters or more) as a whole token (an id inside a segment's id, a speaker in a report's message)."""

    def __init__(self, exact: set[str]):
        self.exact = set(exact)
        long = sorted((n for n in self.exact if len(n) >= 6), key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(map(re.escape, long)) + r")(?![A-Za-z0-9_])")
            if long
            else None
        )

    def hit(self, text: str) -> bool:
        return text in self.exact or (self._pattern is not None and self._pattern.search(text) is not None)


def _hits(value: Any, needles: Needles) -> bool:
    return any(needles.hit(s) for s in _leaves(value))


def _scrub(value: Any, needles: Needles) -> tuple[Any, int]:
    """``value`` without the dict entries whose key or plain value is a needle, and the list items that
    mention one anywhere; (new value, entries removed)."""
    if isinstance(value, dict):
        out, removed = {}, 0
        for k, v in value.items():
            if needles.hit(k) or (isinstance(v, str) and needles.hit(v)):
                removed += 1
                continue
            out[k], n = _scrub(v, needles)
            removed += n
        return out, removed
    if isinstance(value, list):
        kept = [v for v in value if not _hits(v, needles)]
        removed = len(value) - len(kept)
        scrubbed = [_scrub(v, needles) for v in kept]
        return [v for v, _ in scrubbed], removed + sum(n for _, n in scrubbed)
    return value, 0


def _language_parts(ws: Workspace) -> dict[Path, tuple[LanguageParts, str | None]]:
    """Every per-language file of the layout: path → (its LanguageParts, its language; None: combined)."""
    found: list[LanguageParts] = [ws.split_manifests(s) for s in SPLITS]
    found += [ws.evaluation(d.name) for d in registry.run_dirs(ws)]
    for member in vars(Workspace).values():
        if isinstance(member, property) and isinstance(value := member.fget(ws), LanguageParts):
            found.append(value)
    out: dict[Path, tuple[LanguageParts, str | None]] = {}
    for parts in found:
        out[parts.combined] = (parts, None)
        out.update({p: (parts, lang) for lang, p in parts.parts.items()})
    return out


def _jsonl_rewrite(path: Path, needles: Needles, ids: set[str]) -> Rewrite | None:
    """The file's lines without those that mention a removed utterance; the ids of the dropped lines are
    added to ``ids`` (segments, augmented copies …)."""
    kept, removed = [], 0
    for raw in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            data = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError:
            data = raw
        if data is not None and _hits(data, needles):
            removed += 1
            if isinstance(data, dict) and ("audio" in data or "file_id" in data):  # an utterance's line
                ids.update(str(data[k]) for k in ("id", "file_id") if data.get(k))
            continue
        kept.append(raw)
    return Rewrite(path, "jsonl", removed, kept) if removed else None


def _csv_rewrite(path: Path, needles: Needles, kind: str = "csv") -> Rewrite | None:
    # a user's metadata.csv may be in a legacy code page: read it as the intake does
    text = read_transcript(path).text if kind == "metadata" else path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows, columns = list(reader), list(reader.fieldnames or [])
    if kind == "metadata":  # an audiofolder file: a row names its audio relative to the file
        kept = [r for r in rows if str((path.parent / (r.get("file_name") or "")).resolve()) not in needles.exact]
    else:
        kept = [r for r in rows if not _hits(r, needles)]
    return Rewrite(path, kind, len(rows) - len(kept), kept, columns) if len(kept) < len(rows) else None


def _metadata_jsonl_rewrite(path: Path, needles: Needles) -> Rewrite | None:
    kept, removed = [], 0
    for raw in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            row = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            row = {}
        if isinstance(row, dict) and str((path.parent / str(row.get("file_name") or "")).resolve()) in needles.exact:
            removed += 1
            continue
        kept.append(raw)
    return Rewrite(path, "metadata", removed, kept) if removed else None


def _parquet_rewrite(path: Path, needles: Needles) -> Rewrite | None:
    import pandas as pd

    frame = pd.read_parquet(path)
    rows = frame.to_dict("records")
    kept = [r for r in rows if not any(isinstance(v, str) and needles.hit(v) for v in r.values())]
    return Rewrite(path, "parquet", len(rows) - len(kept), kept) if len(kept) < len(rows) else None


def _json_rewrite(path: Path, needles: Needles) -> Rewrite | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    new, removed = _scrub(doc, needles)
    return Rewrite(path, "json", removed, new) if removed else None


def _mentions(path: Path, needles: Needles) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return needles._pattern is not None and needles._pattern.search(text) is not None


def _upload_files(rec: Recording, item: SourceItem | None) -> list[tuple[Path, str]]:
    """The recording's files in the uploads: audio, and every sidecar named after it (transcript,
    provenance, cues, subtitles)."""
    audio = Path(rec.audio)
    files = [(audio, "source audio")]
    for p in sorted(audio.parent.glob(f"{glob_escape(audio.stem)}.*")):
        if p != audio and p.is_file():
            what = {".txt": "sidecar transcript", ".json": "provenance / cues sidecar"}.get(p.suffix, "subtitles")
            files.append((p, what))
    meta = read_provenance(audio) or {}
    if meta.get("subtitles") and Path(meta["subtitles"]).is_file() and Path(meta["subtitles"]) not in dict(files):
        files.append((Path(meta["subtitles"]), "subtitles"))
    if item is not None and item.transcript_source and Path(item.transcript_source).is_file():
        if Path(item.transcript_source) not in dict(files):
            files.append((Path(item.transcript_source), "sidecar transcript"))
    return files


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _derived_kind(ws: Workspace, path: Path) -> str:
    """What a derived file is, for the listing."""
    stem = path.name.split(".", 1)[0]
    if re.search(r"-aug\d+$", stem):
        return "augmented copy"
    if re.search(r"-seg\d{3}$", stem):
        return "segment"
    places = [(ws.normalized_transcript(l, "_").parent, "normalized transcript") for l in LANGUAGES]
    places += [(ws.processed_audio_dir(l), "processed audio") for l in LANGUAGES]
    places += [(ws.processed, "processed file"), (ws.outputs, "alignment output"), (ws.reports, "report")]
    for base, what in [*places, (ws.logs, "log")]:
        if base.resolve() in path.parents:
            return what
    return "derived file"


def _affected_runs(ws: Workspace, shas: set[str]) -> dict[str, str]:
    """Runs trained on a removed recording, by the content hashes of their training-data record
    (``licenses.training_record``); a run whose data is not known is assumed to be one of them."""
    runs = {}
    for run_dir in sorted(registry.run_dirs(ws)):
        record = training_record(ws, run_dir.name)
        hit = len(shas & set(record.get("audio_sha256", [])))
        if hit:
            runs[run_dir.name] = f"trained on {hit} removed recording(s)"
        elif not record or record.get("lines_without_sha256"):
            runs[run_dir.name] = "what it was trained on is not fully known: assumed to include the removed data"
    return runs


def plan_removal(ws: Workspace, selector: str) -> RemovalPlan:
    """Everything ``apply_removal`` would delete and rewrite for ``selector``; changes nothing."""
    recordings, items = select_recordings(ws, selector)
    plan = RemovalPlan(selector, recordings)
    by_audio = {i.audio: i for i in items}
    plan.delete += [f for r in recordings for f in _upload_files(r, by_audio.get(r.audio))]
    plan.contents = sorted({r.sha256 for r in recordings} | ({selector} if stored_copy(ws, selector) else set()))
    plan.delete += _stored_files(ws, set(plan.contents))
    needles = _needles(ws, plan, items)
    ids = {r.file_id for r in recordings}

    skip = {ws.removals.resolve(), ws.data_licenses.resolve(), ws.registry.resolve()}
    files = [p.resolve() for p in sorted(ws.root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")]
    files = [p for p in files if p not in skip]
    uploads, models, dagster = ws.uploads.resolve(), ws.models.resolve(), ws.dagster_home.resolve()
    own = [p for p in files if not {uploads, models, dagster} & set(p.parents)]

    rewrites = _manifest_closure([p for p in own if p.suffix == ".jsonl"], needles, ids)
    plan.needles = needles | ids
    matcher = Needles(plan.needles)
    _derived(ws, plan, [p for p in own if p not in rewrites], rewrites, matcher, ids)
    for p in files:
        if uploads in p.parents and p.name in METADATA_NAMES:  # an audiofolder file lists the transcripts
            rewrite = (
                _csv_rewrite(p, matcher, kind="metadata") if p.suffix == ".csv" else _metadata_jsonl_rewrite(p, matcher)
            )
            if rewrite is not None:
                rewrites[p] = rewrite
        elif models in p.parents and p.suffix in {".json", ".jsonl", ".txt", ".md"} and _mentions(p, matcher):
            plan.untouched.append((p, "a model's own record: the model is marked as needing retraining"))
    if dagster.is_dir():
        plan.untouched.append((dagster, "Dagster's run history may name the removed files in its metadata"))
    if ws.data_licenses.is_file() and _mentions(ws.data_licenses, matcher):
        rewrites[ws.data_licenses.resolve()] = Rewrite(ws.data_licenses.resolve(), "licences", 0, None)
    plan.rewrite = [rewrites[p] for p in sorted(rewrites)]
    _refresh_validation_reports(ws, plan)
    plan.runs = _affected_runs(ws, {r.sha256 for r in recordings})
    return plan


def _needles(ws: Workspace, plan: RemovalPlan, items: list[SourceItem]) -> set[str]:
    """The strings that name the removed data: files, paths, content hashes, and the speakers and sources
    left with no recording (``plan.speakers``, ``plan.sources`` are set here)."""
    recordings = plan.recordings
    removed = {r.audio for r in recordings}
    survivors = [i for i in items if i.audio not in removed]
    plan.speakers = sorted({r.speaker for r in recordings} - {i.speaker for i in survivors})
    gone_sources = {r.source for r in recordings if r.source != "upload"} - {i.source for i in survivors}
    urls = {str((read_provenance(r.audio) or {}).get("source_url") or "") for r in recordings} - {""}
    urls -= {str((read_provenance(i.audio) or {}).get("source_url") or "") for i in survivors}
    plan.sources = sorted(gone_sources | urls)
    needles = removed | set(plan.contents) | {str(p) for p, _ in plan.delete}
    needles |= {os.path.relpath(r.audio, ws.uploads.resolve()) for r in recordings}
    needles |= set(plan.speakers) | set(plan.sources)
    return needles | {f"speaker:{s}" for s in plan.speakers} | {f"source:{s}" for s in gone_sources}


def _manifest_closure(jsonl: list[Path], needles: set[str], ids: set[str]) -> dict[Path, Rewrite]:
    """The JSON-lines files without the lines that name removed data, to a fixed point: a dropped line's id
    (a segment's, an augmented copy's) names more lines; ``needles`` and ``ids`` grow with them."""
    rewrites: dict[Path, Rewrite] = {}
    while True:
        before = set(ids)
        needles |= ids
        current = Needles(needles)
        for p in jsonl:
            rewrite = _jsonl_rewrite(p, current, ids)
            if rewrite is not None:
                rewrites[p] = rewrite
        if ids == before:
            return rewrites


def _derived(
    ws: Workspace, plan: RemovalPlan, files: list[Path], rewrites: dict[Path, Rewrite], matcher: Needles, ids: set[str]
) -> None:
    """The derived files outside the uploads and models: named after a removed utterance (deleted), tables,
    caches and reports that hold entries about it (rewritten), other text that mentions it (deleted)."""
    derived = re.compile(rf"^(?:{'|'.join(re.escape(i) for i in sorted(ids, key=len, reverse=True))}){_DERIVED_ID}$")
    per_utterance = {ws.processed.resolve(), ws.outputs.resolve()}
    archives = {ws.harvest_archive(lang).resolve() for lang in LANGUAGES}
    items = Needles({r.source.split(":", 1)[-1] for r in plan.recordings if r.source != "upload"})
    for p in files:
        if derived.match(p.name.split(".", 1)[0]) or derived.match(p.parent.name):
            plan.delete.append((p, _derived_kind(ws, p)))
        elif p in archives:
            if _mentions(p, items):
                plan.untouched.append(
                    (p, "yt-dlp's download archive: keeps the removed items from being fetched again")
                )
        elif per_utterance & set(p.parents):
            continue  # one file per utterance, named after it: what holds removed data was matched by name
        elif p.suffix in (".csv", ".parquet", ".json"):
            rewrite = {".csv": _csv_rewrite, ".parquet": _parquet_rewrite, ".json": _json_rewrite}[p.suffix](p, matcher)
            if rewrite is not None:
                rewrites[p] = rewrite
        elif p.suffix in TEXT_SUFFIXES and _mentions(p, matcher):
            plan.delete.append((p, f"{_derived_kind(ws, p)} mentioning the removed data"))


def _refresh_validation_reports(ws: Workspace, plan: RemovalPlan) -> None:
    """A language whose inventory loses lines gets its validation report recomputed from what is left
    (its counts, not only its lists, then match)."""
    by_path = {r.path: r for r in plan.rewrite}
    for lang in LANGUAGES:
        inventory = by_path.get(ws.inventory(lang).resolve())
        report = ws.validation_report.part(lang).resolve()
        if inventory is None or not report.is_file():
            continue
        _, fresh = validate_and_dedupe([json.loads(line) for line in inventory.content if line.strip()])
        if report in by_path:
            by_path[report].content = fresh
        else:
            plan.rewrite.append(Rewrite(report, "json", 0, fresh))


# --- doing it ----------------------------------------------------------------------------------------


def _write(
    ws: Workspace, rewrite: Rewrite, parts: dict[Path, tuple[LanguageParts, str | None]], rewritten: set[Path]
) -> None:
    """Write one rewrite atomically: a language's part through ``write_language_part`` (which rebuilds the
    combined file; a combined file whose parts are rewritten is left to that), anything else directly."""
    path = rewrite.path
    family = parts.get(path)
    if family is not None and family[1] is not None:  # a language's part: the combined file is rebuilt from it
        lp, lang = family
        content = rewrite.content
        if rewrite.kind == "jsonl":
            content = [json.loads(line) for line in content if line.strip()]
        extra = None
        if rewrite.kind == "json" and lp.combined.is_file():
            combined = json.loads(lp.combined.read_text(encoding="utf-8"))
            extra = {k: v for k, v in combined.items() if k not in LANGUAGES}
        write_language_part(lp, lang, content, columns=rewrite.columns, extra=extra)
        return
    if family is not None and any(p.resolve() in rewritten for p in family[0].parts.values()):
        return  # a combined file: rebuilt from its parts
    if rewrite.kind == "jsonl" or (rewrite.kind == "metadata" and path.suffix == ".jsonl"):
        with file_lock(path):
            write_text(path, "".join(rewrite.content))
    elif rewrite.kind in ("csv", "metadata"):
        write_csv(path, rewrite.content, rewrite.columns or [])
    elif rewrite.kind == "licences":  # regenerated from what is left in the uploads
        write_licences(ws)
    elif rewrite.kind == "parquet":
        from whisper_pipeline.data.manifests import write_parquet

        write_parquet(path, rewrite.content)
    else:
        write_json(path, rewrite.content)


def _remove_empty_dirs(ws: Workspace, deleted: list[Path]) -> None:
    stops = {ws.root.resolve(), ws.uploads.resolve(), *(ws.language_uploads(l).resolve() for l in LANGUAGES)}
    for d in sorted({p.parent for p in deleted}, key=lambda p: len(p.parts), reverse=True):
        while d not in stops and ws.root.resolve() in d.parents and d.is_dir() and not any(d.iterdir()):
            d.rmdir()
            d = d.parent


def apply_removal(ws: Workspace, plan: RemovalPlan, reason: str) -> dict:
    """Record the removal (``ws.removals``: the intake then never takes the data back), mark the models
    trained on it, rewrite the manifests, delete the files; returns the record."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = {
        "time": when,
        "selector": plan.selector,
        "reason": reason,
        **{k: v for k, v in plan.summary(ws).items() if k not in ("selector", "untouched")},
        "recordings": [
            {k: getattr(r, k) for k in ("file_id", "language", "speaker", "source", "sha256", "why")}
            | {"path": os.path.relpath(r.audio, ws.uploads.resolve())}
            for r in plan.recordings
        ],
        "exclude": {
            "sha256": list(plan.contents),
            "sources": plan.sources,
            "paths": sorted(r.audio for r in plan.recordings),
        },
    }
    with file_lock(ws.removals):
        with open(ws.removals, "a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
    for run, why in plan.runs.items():
        # the mark names the removal by its time, not by its selector: the registry must not name the data
        mark = f"{why}, removed {when}" + (f" ({reason})" if reason else "")
        registry.mark_needs_retraining(ws, run, mark, removal=when)
    parts = {p.resolve(): v for p, v in _language_parts(ws).items()}
    rewritten = {r.path for r in plan.rewrite}
    for rewrite in plan.rewrite:
        if rewrite.kind != "licences":
            _write(ws, rewrite, parts, rewritten)
    for path, _ in plan.delete:
        path.unlink(missing_ok=True)
    _remove_empty_dirs(ws, [p for p, _ in plan.delete])
    for rewrite in plan.rewrite:  # last: it describes the uploads as they are now
        if rewrite.kind == "licences":
            _write(ws, rewrite, parts, rewritten)
    return record


# --- what the intake must not take back --------------------------------------------------------------


@dataclass
class Exclusions:
    """Content hashes, sources and paths removed so far, each with the removal that removed it."""

    sha256: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.sha256 or self.sources or self.paths)


def load_exclusions(ws: Workspace) -> Exclusions:
    found = Exclusions()
    if not ws.removals.is_file():
        return found
    for record in read_jsonl(ws.removals):
        why = record.get("reason") or "no reason given"
        label = f"removed {record.get('time', '')} ({record.get('selector', '')}: {why})"
        exclude = record.get("exclude") or {}
        found.sha256.update(dict.fromkeys(exclude.get("sha256", []), label))
        found.sources.update(dict.fromkeys(exclude.get("sources", []), label))
        found.paths.update(dict.fromkeys(exclude.get("paths", []), label))
    return found


def excluded(item: SourceItem, exclusions: Exclusions, known_sha256: str | None = None) -> str:
    """Why ``item`` must not be taken in ('' if it may): its path, source or content was removed before.
    ``known_sha256``: its hash if known already (else it is hashed, only when hashes were removed)."""
    if item.audio in exclusions.paths:
        return exclusions.paths[item.audio]
    meta = read_provenance(item.audio) or {}
    for key in (item.source, meta.get("source_url"), meta.get("webpage_url")):
        if key and key in exclusions.sources:
            return exclusions.sources[key]
    if exclusions.sha256:
        sha = known_sha256 or sha256_file(item.audio)
        if sha in exclusions.sha256:
            return exclusions.sha256[sha]
    return ""
