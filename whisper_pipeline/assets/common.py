"""Shared by the asset modules: the language partitions, progress logging, configs generated from the
library's settings dataclasses, and turning a stage's plain result into Dagster's."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from whisper_pipeline.stages import Markdown, StageError, StageResult
from whisper_pipeline.workspace import LANGUAGES

language_partitions = dg.StaticPartitionsDefinition(list(LANGUAGES))

__all__ = [
    "config_from",
    "language_partitions",
    "materialize",
    "progress_logger",
    "run_stage",
    "stage_failures",
]


def progress_logger(
    context: dg.AssetExecutionContext, label: str, every_fraction: float = 0.1
) -> Callable[[int, int], None]:
    """A callback that logs ``label: n/total`` about every 10%, so long steps show progress in the UI."""
    state = {"next": 0.0}

    def report(done: int, total: int) -> None:
        if total and (done / total >= state["next"] or done == total):
            context.log.info(f"{label}: {done}/{total}")
            state["next"] = done / total + every_fraction

    return report


def _config_field(f: dataclasses.Field, annotation: Any) -> tuple[Any, Any]:
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    return annotation, Field(default=default, description=f.metadata.get("help", ""))


def config_from(name: str, *settings: type, base: type[dg.Config] = dg.Config, **extra: tuple[Any, Any]) -> type:
    """A Dagster config class whose fields are those of the library's settings dataclasses (defaults and
    ``metadata["help"]`` descriptions included), plus ``extra`` fields as ``name=(type, Field(...))``:
    each setting is defined once, in the library."""
    fields: dict[str, tuple[Any, Any]] = {}
    for cls in settings:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init and f.name not in fields:
                fields[f.name] = _config_field(f, hints[f.name])
    return create_model(name, __base__=base, **fields, **extra)


def metadata_value(value: Any) -> Any:
    """A plain metadata value (see ``whisper_pipeline.stages``) as a Dagster ``MetadataValue``."""
    if isinstance(value, Markdown):
        return dg.MetadataValue.md(str(value))
    if isinstance(value, Path):
        return dg.MetadataValue.path(str(value))
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, dict | list | tuple):
        return dg.MetadataValue.json(value if not isinstance(value, tuple) else list(value))
    if value is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.text(str(value))


def to_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: metadata_value(v) for k, v in metadata.items()}


def materialize(result: StageResult) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=to_metadata(result.metadata))


@contextmanager
def stage_failures() -> Iterator[None]:
    """A ``StageError`` raised inside becomes a ``dagster.Failure`` with the same message and metadata."""
    try:
        yield
    except StageError as exc:
        raise dg.Failure(description=str(exc), metadata=to_metadata(exc.metadata)) from exc


def run_stage(stage: Callable[..., StageResult], *args: Any, **kwargs: Any) -> dg.MaterializeResult:
    """Call a stage function and return its result as a ``MaterializeResult`` (``StageError`` → ``Failure``)."""
    with stage_failures():
        return materialize(stage(*args, **kwargs))
