"""The ``data_licenses`` stage: ``DATA_LICENSES.md`` from the provenance sidecars of the uploads."""

from __future__ import annotations

from whisper_pipeline.governance.licenses import UNKNOWN, write_licences
from whisper_pipeline.stages import StageResult, markdown_table
from whisper_pipeline.workspace import Workspace


def data_licenses_stage(ws: Workspace) -> StageResult:
    """Write ``ws.data_licenses``; say how many sources and files have no known licence."""
    path, rows = write_licences(ws)
    unknown = [r for r in rows if UNKNOWN in r["licence"]]
    return StageResult(
        metadata={
            "sources": len(rows),
            "files": sum(r["files"] for r in rows),
            "hours": round(sum(r["hours"] for r in rows), 4),
            "files_licence_unknown": sum(r["files"] for r in unknown),
            "document": path,
            "table": markdown_table(rows, ["source", "licence", "language", "files", "hours", "runs"]),
        }
    )
