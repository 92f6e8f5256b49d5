"""Shared by the asset modules: the language partitions and progress logging."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from whisper_pipeline.workspace import LANGUAGES

language_partitions = dg.StaticPartitionsDefinition(list(LANGUAGES))


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


def markdown_table(rows: list[dict], columns: list[str], limit: int = 50) -> str:
    if not rows:
        return "_none_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join(
        "| " + " | ".join(str(r.get(c, "")).replace("|", "\\|") for c in columns) + " |\n" for r in rows[:limit]
    )
    more = f"\n… and {len(rows) - limit} more" if len(rows) > limit else ""
    return head + body + more
