"""Helpers for the data stage tests: a log that keeps what it is told, and the chain of data stages
(intake → dedupe → normalize → split) run without Dagster on the ``workspace`` fixture."""

from __future__ import annotations

from whisper_pipeline.data.balance import BalanceRules
from whisper_pipeline.data.inventory import IntakeRules
from whisper_pipeline.data.splits import SplitSettings
from whisper_pipeline.harvest.sources import HarvestOptions
from whisper_pipeline.stages.dedupe import dedupe
from whisper_pipeline.stages.intake import intake
from whisper_pipeline.stages.normalize import normalize
from whisper_pipeline.stages.split import split
from whisper_pipeline.text.normalize import NormalizationSettings
from whisper_pipeline.workspace import Workspace

NO_HARVEST = HarvestOptions(harvest=False)
STAGES = ("intake", "dedupe", "normalize", "split")


class ListLog:
    """A ``Log`` that keeps every message; an error fails the test."""

    def __init__(self) -> None:
        self.infos: list[str] = []
        self.warnings: list[str] = []

    def info(self, msg: str) -> None:
        self.infos.append(msg)

    def warning(self, msg: str) -> None:
        self.warnings.append(msg)

    def error(self, msg: str) -> None:
        raise AssertionError(msg)


def run_chain(ws: Workspace, lang: str, upto: str = "split", log: ListLog | None = None) -> dict:
    """Run the data stages for ``lang`` with default settings, up to and including ``upto``;
    returns each stage's metadata by stage name."""
    log = log or ListLog()
    calls = {
        "intake": lambda: intake(ws, lang, IntakeRules(), NO_HARVEST, log=log),
        "dedupe": lambda: dedupe(ws, lang, BalanceRules(), log=log),
        "normalize": lambda: normalize(ws, lang, NormalizationSettings(), log=log),
        "split": lambda: split(ws, lang, SplitSettings(), log=log),
    }
    return {name: calls[name]().metadata for name in STAGES[: STAGES.index(upto) + 1]}
