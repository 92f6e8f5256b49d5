"""``DATA_LICENSES.md``: where the workspace's audio came from and under which licence, per source.

A harvested file carries its provenance in a sidecar (``<stem>.source.json``, written by
``harvest/ytdlp.py``): the configured source URL, uploader/channel, licence, download time. A source is
one configured URL (a video, playlist or channel); a local upload without a sidecar has no known licence
and is counted, per language, as "licence unknown". The runs that trained on a source come from each
run's training-data record (``Workspace.run_training_data``, written with its run manifest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from whisper_pipeline.data.discovery import discover, read_provenance
from whisper_pipeline.io import read_jsonl, write_text
from whisper_pipeline.models.registry import run_dirs, run_manifest
from whisper_pipeline.training.package import file_sha256, training_data_record
from whisper_pipeline.workspace import LANGUAGES, Workspace

UNKNOWN = "licence unknown"


@dataclass
class SourceLicence:
    """One row of the table: a configured source (or a language's local uploads) and what it holds."""

    source: str
    language: str
    licence: set[str] = field(default_factory=set)
    channel: set[str] = field(default_factory=set)
    files: int = 0
    seconds: float = 0.0
    downloads: list[str] = field(default_factory=list)
    runs: set[str] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "channel": ", ".join(sorted(self.channel)) or "—",
            "licence": ", ".join(sorted(self.licence)) or UNKNOWN,
            "language": self.language,
            "files": self.files,
            "hours": round(self.seconds / 3600, 4),
            "first_download": min(self.downloads) if self.downloads else "—",
            "last_download": max(self.downloads) if self.downloads else "—",
            "runs": ", ".join(sorted(self.runs)) or "—",
        }


def _durations(ws: Workspace, lang: str) -> dict[str, float]:
    """Measured duration of every inventoried file (intake decoded it), by absolute path."""
    path = ws.inventory(lang)
    return (
        {r["audio"]: float(r.get("duration_s") or 0.0) for r in read_jsonl(path) if r.get("audio")}
        if path.is_file()
        else {}
    )


def _local_key(lang: str, source: str) -> str:
    label = f"local uploads ({lang})"
    return label if source == "upload" else f"{label}, source {source}"


def training_record(ws: Workspace, run: str) -> dict:
    """The run's training-data record; for a run packaged before runs kept one, rebuilt from the data
    manifests its run manifest names when they are still byte for byte what it trained on; else ``{}``."""
    path = ws.run_training_data(run)
    try:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    recorded = run_manifest(ws, run).get("data_manifests") or {}
    if recorded and all(Path(p).is_file() and file_sha256(p) == digest for p, digest in recorded.items()):
        return training_data_record(list(recorded))
    return {}


def run_sources(ws: Workspace) -> dict[str, set[tuple[str, str]]]:
    """Per run: the (language, source) pairs its training data came from (unknown: none)."""
    found = {}
    for run_dir in sorted(run_dirs(ws)):
        record = training_record(ws, run_dir.name)
        found[run_dir.name] = {(s["language"], s["source"]) for s in record.get("sources", [])}
    return found


def licence_table(ws: Workspace) -> list[dict]:
    """One row per source and language, sorted: harvested sources by URL, then the local uploads."""
    rows: dict[tuple[str, str], SourceLicence] = {}
    row_of: dict[tuple[str, str], tuple[str, str]] = {}  # (language, manifest source) → row key
    for lang in LANGUAGES:
        durations = _durations(ws, lang)
        items, _ = discover(ws.uploads, lang)
        for item in items:
            meta = read_provenance(item.audio)
            if meta is not None and meta.get("source_url"):
                key = (str(meta["source_url"]), lang)
            else:
                key = (_local_key(lang, item.source), lang)
            row = rows.setdefault(key, SourceLicence(*key))
            row.files += 1
            row.seconds += durations.get(item.audio) or float((meta or {}).get("duration") or 0.0)
            if meta is not None:
                licence = str(meta.get("license") or "").strip()
                row.licence.add(licence if licence and licence != "unknown" else UNKNOWN)
                row.channel.update(str(meta[k]) for k in ("channel", "uploader") if meta.get(k))
                if meta.get("downloaded_at"):
                    row.downloads.append(str(meta["downloaded_at"]))
            else:
                row.licence.add(UNKNOWN)
            row_of[(lang, item.source)] = key
    for run, pairs in run_sources(ws).items():
        for pair in pairs:
            if pair in row_of:
                rows[row_of[pair]].runs.add(run)
    local = [r for k, r in sorted(rows.items()) if k[0].startswith("local uploads")]
    harvested = [r for k, r in sorted(rows.items()) if not k[0].startswith("local uploads")]
    return [r.as_dict() for r in harvested + local]


COLUMNS = [
    ("source", "source"),
    ("channel / uploader", "channel"),
    ("licence", "licence"),
    ("language", "language"),
    ("files", "files"),
    ("hours", "hours"),
    ("first download", "first_download"),
    ("last download", "last_download"),
    ("runs trained on it", "runs"),
]


def licences_markdown(rows: list[dict]) -> str:
    """The document: the table, then the files and hours per licence."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Data licences",
        "",
        "Generated from the provenance sidecars of the workspace's uploads (`<stem>.source.json`, written by the",
        "harvest) by `python -m whisper_pipeline.governance licenses` and the `data_licenses` asset; do not edit.",
        f'Local uploads without provenance are counted as "{UNKNOWN}". "Runs trained on it": the training runs',
        "whose data included the source (from each run's training-data record).",
        "",
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(cell(r[key]) for _, key in COLUMNS) + " |" for r in rows),
        "",
        "## Per licence",
        "",
        "| licence | sources | files | hours |",
        "|---|---|---|---|",
    ]
    by_licence: dict[str, list[dict]] = {}
    for r in rows:
        by_licence.setdefault(r["licence"], []).append(r)
    for licence, group in sorted(by_licence.items()):
        hours = round(sum(r["hours"] for r in group), 4)
        lines.append(f"| {cell(licence)} | {len(group)} | {sum(r['files'] for r in group)} | {hours} |")
    return "\n".join(lines) + "\n"


def write_licences(ws: Workspace) -> tuple[Path, list[dict]]:
    """Write ``ws.data_licenses`` (atomically); returns it and its rows."""
    rows = licence_table(ws)
    return write_text(ws.data_licenses, licences_markdown(rows)), rows
