"""One function per pipeline stage, without Dagster: read the stage's inputs from the workspace layout,
call the library, write the outputs, and say what happened.

An asset is then: read config and resources → call the stage function → turn its ``StageResult`` into a
``MaterializeResult`` (``assets/common.py:materialize``). Everything a stage decides can be tested here
with plain arguments. A stage that cannot run raises ``StageError`` (the asset turns it into a
``dagster.Failure``); problems it works around go to ``log.warning``.

Metadata values are plain: ``int``/``float``/``bool``/``str``, ``dict``/``list`` (shown as JSON),
``Path`` (a file or directory), ``Markdown`` (a table or list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, TypeVar

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as a long step advances."""

T = TypeVar("T")


class Log(Protocol):
    """What a stage logs through: ``logging.Logger`` or Dagster's ``context.log``."""

    def info(self, msg: str) -> Any: ...

    def warning(self, msg: str) -> Any: ...

    def error(self, msg: str) -> Any: ...


DEFAULT_LOG: Log = logging.getLogger("whisper_pipeline")


class Markdown(str):
    """Metadata shown as Markdown (tables, lists) rather than plain text."""


class StageError(Exception):
    """The stage cannot run (inputs missing, nothing to do); ``metadata`` says more."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None):
        super().__init__(message)
        self.metadata = metadata or {}


@dataclass
class StageResult:
    """What a stage did, as metadata for the UI (plain values, see the module doc)."""

    metadata: dict[str, Any] = field(default_factory=dict)


def settings_from(source: Any, cls: type[T], **overrides: Any) -> T:
    """An instance of the dataclass ``cls`` from the same-named attributes of ``source`` (a Dagster
    config generated from it): always by name, so reordering fields cannot swap values."""
    values = {f.name: getattr(source, f.name) for f in fields(cls) if f.init and hasattr(source, f.name)}
    return cls(**{**values, **overrides})


def markdown_table(rows: list[dict], columns: list[str], limit: int = 50) -> Markdown:
    if not rows:
        return Markdown("_none_")
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join(
        "| " + " | ".join(str(r.get(c, "")).replace("|", "\\|") for c in columns) + " |\n" for r in rows[:limit]
    )
    more = f"\n… and {len(rows) - limit} more" if len(rows) > limit else ""
    return Markdown(head + body + more)


def markdown_list(items: list[str], limit: int = 50) -> Markdown:
    return Markdown("\n".join(f"- {i}" for i in items[:limit]) or "_none_")
