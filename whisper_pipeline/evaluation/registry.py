"""The model registry, ``models/registry.json``: which run is in production, and every promotion.

Written atomically under a lock. A run is promoted only through ``promote`` after the gates
(``gates.py``) passed; earlier production runs stay listed in ``history``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from whisper_pipeline.io import file_lock, write_json


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
