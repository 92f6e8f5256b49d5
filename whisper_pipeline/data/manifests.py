"""Per-language manifests and the combined files built from them.

Each language partition writes only its own files; the combined file (all languages) is rebuilt
from the per-language parts under a lock, so partitions can run in parallel.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from whisper_pipeline.io import file_lock, read_jsonl, write_csv, write_json, write_jsonl
from whisper_pipeline.workspace import LanguageParts


@dataclass(frozen=True)
class ManifestLine:
    """One utterance as it travels through the stages: split → processed → training manifests.

    Files hold it as a JSON object (``to_dict``/``from_dict`` at the file boundary, ``read_lines``/``write_lines``);
    between them the stages use the attributes and derive lines with ``dataclasses.replace``. The optional
    fields are those later stages add; an optional field that is ``None`` is not written, except
    ``loudness_lufs`` on a processed line (``null``: not normalized). Keys the dataclass does not know
    (a user's own, an older file's) are kept in ``extra`` and written back unchanged.
    """

    id: str
    audio: str
    transcript: str
    duration: float
    language: str
    speaker: str
    split: str
    source: str = "upload"
    # split lines (data/splits.py:make_splits)
    group: str | None = None  # "speaker:<id>", "source:<id>" or "file:<id>": the unit kept in one split
    sha256: str | None = None  # of the source audio: leak checks, and the preprocessing cache key
    # processed lines (audio/preprocess.py): ``audio`` is then the processed file
    source_audio: str | None = None
    manifest_duration: float | None = None  # the split line's duration (before trimming)
    trim: list[float] | None = None  # [seconds trimmed at the start, at the end]
    loudness_lufs: float | None = None  # measured before normalization; null when not normalized
    preprocess_flags: list[str] | None = None
    preprocess_key: str | None = None
    # segments cut from a long recording (alignment/segment.py:cut_segments)
    parent: str | None = None  # the recording's id
    offset: float | None = None  # start in the parent's processed audio, seconds
    # augmented copies (audio/augment.py:augment_offline)
    augmented_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestLine:
        """The line of a JSON object: values as they are (no conversion), unknown keys into ``extra``. Raises
        ``KeyError`` naming a missing required field."""
        missing = [name for name in REQUIRED_LINE_FIELDS if name not in data]
        if missing:
            raise KeyError(f"manifest line {data.get('id', '?')!r} has no {', '.join(missing)}")
        line = cls(**{k: v for k, v in data.items() if k in _ALWAYS_WRITTEN or (k in _OPTIONAL and v is not None)})
        written = line.to_dict()  # what the fields give back; every other key (a null one too) is kept in extra
        extra = {k: v for k, v in data.items() if k not in written}
        return replace(line, extra=extra) if extra else line

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the line: the keys and values ``from_dict`` read (plus the fields set since)."""
        out = dict(self.extra)
        for name in _ALWAYS_WRITTEN:
            out[name] = getattr(self, name)
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None or (name == "loudness_lufs" and self.preprocess_key is not None):
                out[name] = value
        return out


REQUIRED_LINE_FIELDS = tuple(
    f.name for f in fields(ManifestLine) if f.default is MISSING and f.default_factory is MISSING
)
_ALWAYS_WRITTEN = (*REQUIRED_LINE_FIELDS, "source")
_OPTIONAL = tuple(f.name for f in fields(ManifestLine) if f.name not in _ALWAYS_WRITTEN and f.name != "extra")


def read_lines(path: str | Path, *, skip_invalid: bool = False) -> list[ManifestLine]:
    """The lines of a manifest file (JSON lines), as ``ManifestLine``. A line without a required field
    raises ``ManifestError`` naming the file and every such line; with ``skip_invalid`` those lines are
    left out instead (for the dataset checks: ``manifest_lines_valid`` reports them)."""
    lines, problems = [], []
    for n, data in enumerate(read_jsonl(path), 1):
        if not isinstance(data, dict):
            problems.append(f"{path}: entry {n}: not a JSON object")
            continue
        try:
            lines.append(ManifestLine.from_dict(data))
        except KeyError as exc:
            problems.append(f"{path}: entry {n}: {exc.args[0]}")
    if problems and not skip_invalid:
        raise ManifestError(Path(path), problems)
    return lines


def line_dicts(lines: Iterable[ManifestLine]) -> list[dict[str, Any]]:
    """The JSON objects of ``lines`` (for a writer that takes rows, such as ``write_language_part``)."""
    return [line.to_dict() for line in lines]


def write_lines(path: str | Path, lines: Iterable[ManifestLine]) -> Path:
    """Write ``lines`` as a manifest file (JSON lines, keys sorted), atomically."""
    return write_jsonl(path, line_dicts(lines))


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
