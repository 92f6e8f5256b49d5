"""Per-language manifests and the combined files built from them.

Each language partition writes only its own files; the combined file (all languages) is rebuilt
from the per-language parts under a lock, so partitions can run in parallel.
"""

from __future__ import annotations

import csv
from pathlib import Path

from whisper_pipeline.io import file_lock, read_jsonl, write_csv, write_json, write_jsonl


def combine_jsonl(parts: list[Path], combined: Path) -> int:
    with file_lock(combined):
        rows = [r for p in parts if p.is_file() for r in read_jsonl(p)]
        write_jsonl(combined, rows)
    return len(rows)


def combine_csv(parts: list[Path], combined: Path, fieldnames: list[str]) -> int:
    with file_lock(combined):
        rows = []
        for p in parts:
            if p.is_file():
                with open(p, newline="", encoding="utf-8") as f:
                    rows += list(csv.DictReader(f))
        write_csv(combined, rows, fieldnames)
    return len(rows)


def write_parquet(path: Path, rows: list[dict]) -> Path:
    """Columnar copy of a table, for datasets too large to browse as CSV."""
    import pandas as pd

    from whisper_pipeline.io import atomic_path

    with atomic_path(path, suffix=".parquet") as tmp:
        pd.DataFrame(rows).to_parquet(tmp, index=False)
    return path


def combine_parquet(parts: list[Path], combined: Path) -> int:
    import pandas as pd

    from whisper_pipeline.io import atomic_path

    with file_lock(combined):
        frames = [pd.read_parquet(p) for p in parts if p.is_file()]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        with atomic_path(combined, suffix=".parquet") as tmp:
            frame.to_parquet(tmp, index=False)
    return len(frame)


def combine_json(parts: dict[str, Path], combined: Path, extra: dict | None = None) -> dict:
    import json

    with file_lock(combined):
        data = {**(extra or {}), **{k: json.loads(p.read_text()) for k, p in parts.items() if p.is_file()}}
        write_json(combined, data)
    return data
