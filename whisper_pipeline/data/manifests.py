"""Per-language manifests and the combined files built from them.

Each language partition writes only its own files; the combined file (all languages) is rebuilt
from the per-language parts under a lock, so partitions can run in parallel.
"""

from __future__ import annotations

import csv
from pathlib import Path

from whisper_pipeline.io import file_lock, read_jsonl, write_csv, write_json, write_jsonl
from whisper_pipeline.workspace import LanguageParts


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


def write_language_part(
    file: LanguageParts, lang: str, content, *, columns: list[str] | None = None, extra: dict | None = None
) -> Path:
    """Write this language's part of ``file``, then rebuild the combined file from every language's part.

    The format follows the suffix: ``.jsonl`` (rows), ``.csv`` (rows, ``columns``), ``.parquet`` (rows),
    ``.json`` (a document; combined as ``{lang: document, **extra}``). Parts are written atomically by
    their own partition; the combined file is rebuilt under a lock, so partitions can run in parallel.
    Returns the combined file.
    """
    part, suffix = file.part(lang), file.combined.suffix
    if suffix == ".jsonl":
        write_jsonl(part, content)
        combine_jsonl(list(file.parts.values()), file.combined)
    elif suffix == ".csv":
        if columns is None:
            raise ValueError(f"{file.combined.name}: a CSV part needs its columns")
        write_csv(part, content, columns)
        combine_csv(list(file.parts.values()), file.combined, columns)
    elif suffix == ".parquet":
        write_parquet(part, content)
        combine_parquet(list(file.parts.values()), file.combined)
    elif suffix == ".json":
        write_json(part, content)
        combine_json(file.parts, file.combined, extra=extra)
    else:
        raise ValueError(f"{file.combined.name}: no way to combine {suffix or 'suffix-less'} files")
    return file.combined


class ManifestError(ValueError):
    """A manifest with invalid lines; ``problems`` holds one ``path:line: what`` entry per bad line."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        shown = "\n".join(problems[:20]) + (f"\n… and {len(problems) - 20} more" if len(problems) > 20 else "")
        super().__init__(f"{path}: {len(problems)} invalid line(s)\n{shown}")


def _manifest_line_model():
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field

    from whisper_pipeline.data.splits import SPLITS
    from whisper_pipeline.workspace import LANGUAGES

    class ManifestLine(BaseModel):
        """One utterance of a split manifest. Extra keys (``sha256``, ``group``, ``parent``…) are allowed."""

        model_config = ConfigDict(extra="allow", strict=False)
        id: str = Field(min_length=1)
        audio: str = Field(min_length=1)
        transcript: str = Field(min_length=1)
        duration: float = Field(gt=0, le=4 * 3600)
        language: Literal[LANGUAGES]  # type: ignore[valid-type]
        speaker: str = Field(min_length=1)
        split: Literal[SPLITS]  # type: ignore[valid-type]
        source: str = "upload"

    return ManifestLine


def manifest_json_schema() -> dict:
    """JSON Schema of a manifest line (for other tools that read the manifests)."""
    return _manifest_line_model().model_json_schema()


def validate_manifest_lines(path: str | Path) -> tuple[list[dict], list[str]]:
    """(valid lines, problems); each problem names the file, the line number and the field."""
    import json

    from pydantic import ValidationError

    model = _manifest_line_model()
    path = Path(path)
    lines, problems = [], []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            lines.append(model.model_validate(data).model_dump())
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{lineno}: invalid JSON ({exc.msg})")
        except ValidationError as exc:
            what = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
            problems.append(f"{path}:{lineno}: {what}")
        except ValueError as exc:
            problems.append(f"{path}:{lineno}: {exc}")
    return lines, problems


def read_manifest(path: str | Path) -> list[dict]:
    """Every line of a manifest, validated; raises ``ManifestError`` listing every bad line."""
    lines, problems = validate_manifest_lines(path)
    if problems:
        raise ManifestError(Path(path), problems)
    return lines


def manifest_to_dataset(path: str | Path, sampling_rate: int = 16000, decode: bool = True):
    """A Hugging Face ``datasets.Dataset`` of a manifest, with an ``Audio`` column.

    The column is declared ``Audio(decode=False)`` (datasets' own decoder needs torchcodec, whose
    PyPI build does not load beside this project's torch); with ``decode=True`` a transform decodes
    it with ffmpeg, resampled to ``sampling_rate`` mono, into the usual
    ``{"array", "sampling_rate", "path"}`` dict.
    """
    from datasets import Audio, Dataset

    from whisper_pipeline.audio.ffmpeg import decode as decode_audio

    lines = read_manifest(path)
    ds = Dataset.from_list(lines).cast_column("audio", Audio(sampling_rate=sampling_rate, decode=False))
    if not decode:
        return ds

    def transform(batch: dict) -> dict:
        batch = dict(batch)
        batch["audio"] = [
            {"path": a["path"], "array": decode_audio(a["path"], sampling_rate), "sampling_rate": sampling_rate}
            for a in batch["audio"]
        ]
        return batch

    return ds.with_transform(transform)
