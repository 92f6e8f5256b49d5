"""Runs, their evaluations, and the model registry: which run is latest, which evaluations exist, and
which run is in production. The assets and the service ask here; nothing else reads these files.

The registry (``models/registry.json``) is written atomically under a lock. A run is promoted only
through ``promote`` after the gates (``evaluation/gates.py``) passed; earlier production runs stay
listed in ``history``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from whisper_pipeline.io import file_lock, write_json, write_text
from whisper_pipeline.workspace import Workspace


def load_registry(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"production": None, "history": []}


def production_run(path: Path) -> dict | None:
    return load_registry(path).get("production")


def promote(path: Path, run: str, run_dir: str, wer_by_language: dict[str, float], reason: str = "") -> dict:
    with file_lock(path):
        registry = load_registry(path)
        entry = {
            "run": run,
            "path": run_dir,
            "promoted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wer": wer_by_language,
            "reason": reason,
        }
        registry["production"] = entry
        registry["history"].append(entry)
        write_json(path, registry)
    return entry


def latest_run(ws: Workspace) -> str:
    """The run trained last ('' if none)."""
    marker = ws.latest_run_marker
    return marker.read_text().strip() if marker.is_file() else ""


def set_latest_run(ws: Workspace, run: str) -> None:
    write_text(ws.latest_run_marker, run + "\n")
