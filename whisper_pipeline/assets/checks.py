"""Asset checks on the intake and the dataset: unusable files, normalization, leaks and validity of splits.

The data checks are partitioned like their assets: each judges the language of its run, so one
language's problem never fails another language's run (a leak check still compares against every
language's splits). ``every_language_in_every_split`` looks across languages by nature.
"""

import json

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.common import language_partitions
from whisper_pipeline.assets.normalized_transcripts import (
    TARGET_FRACTION,
    normalized_transcripts,
)
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.assets.splits import splits
from whisper_pipeline.data.dataset_checks import (
    recordings_in_two_splits,
    speakers_in_two_splits,
    untrainable_training_lines,
)
from whisper_pipeline.data.manifests import validate_manifest_lines
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES, Workspace


class UnusableFractionConfig(dg.Config):
    max_unusable_fraction: float = Field(default=0.2, description="Fail when more than this share of files is unusable")


def _inventory(ws: Workspace, lang: str) -> list[dict]:
    return read_jsonl(p) if (p := ws.lang_manifests(lang) / "inventory.jsonl").is_file() else []


def _split_lines(ws: Workspace, languages: tuple[str, ...] = LANGUAGES) -> list[dict]:
    return [
        line for l in languages for s in SPLITS if (p := ws.split_manifest(l, s)).is_file() for line in read_jsonl(p)
    ]


def _listed(problems: list[str], **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"count": len(problems), "problems": dg.MetadataValue.json(problems[:50]), **metadata},
    )


@dg.asset_check(
    asset=raw_audio,
    partitions_def=language_partitions,
    description="Share of unusable files in the language stays under a threshold",
)
def unusable_fraction_below_threshold(
    context: dg.AssetCheckExecutionContext, config: UnusableFractionConfig, workspace: WorkspaceResource
) -> dg.AssetCheckResult:
    rows = _inventory(workspace.get(), context.partition_key)
    unusable = [r for r in rows if r["status"] == "unusable"]
    fraction = round(len(unusable) / len(rows), 4) if rows else 0.0
    return dg.AssetCheckResult(
        passed=fraction <= config.max_unusable_fraction,
        metadata={
            "unusable_fraction": fraction,
            "unusable": len(unusable),
            "files": len(rows),
            "threshold": config.max_unusable_fraction,
        },
    )


@dg.asset_check(
    asset=splits,
    blocking=True,
    partitions_def=language_partitions,
    description="Every training line has a transcript and a file the intake accepted",
)
def no_transcriptless_audio_in_training(
    context: dg.AssetCheckExecutionContext, workspace: WorkspaceResource
) -> dg.AssetCheckResult:
    ws, lang = workspace.get(), context.partition_key
    return _listed(untrainable_training_lines(_inventory(ws, lang), _split_lines(ws, (lang,))))


@dg.asset_check(
    asset=splits,
    blocking=True,
    partitions_def=language_partitions,
    description="No recording (exact or re-encoded copy) in two splits, across all languages",
)
def no_duplicate_across_splits(
    context: dg.AssetCheckExecutionContext, workspace: WorkspaceResource
) -> dg.AssetCheckResult:
    ws = workspace.get()
    inventory = [r for l in LANGUAGES for r in _inventory(ws, l)]
    return _listed(recordings_in_two_splits(inventory, _split_lines(ws), _split_lines(ws, (context.partition_key,))))


@dg.asset_check(
    asset=normalized_transcripts,
    partitions_def=language_partitions,
    description=f"At least {TARGET_FRACTION:.0%} of the language's transcripts normalize",
)
def normalized_fraction_meets_target(
    context: dg.AssetCheckExecutionContext, workspace: WorkspaceResource
) -> dg.AssetCheckResult:
    report = workspace.get().lang_manifests(context.partition_key) / "normalization_report.json"
    fraction = json.loads(report.read_text())["fraction_normalized"] if report.is_file() else None
    return dg.AssetCheckResult(
        passed=fraction is not None and fraction >= TARGET_FRACTION,
        metadata={"fraction_normalized": fraction, "target": TARGET_FRACTION},
    )


@dg.asset_check(
    asset=splits,
    blocking=True,
    partitions_def=language_partitions,
    description="No speaker (or fallback group) in two splits",
)
def no_speaker_in_two_splits(
    context: dg.AssetCheckExecutionContext, workspace: WorkspaceResource
) -> dg.AssetCheckResult:
    return _listed(speakers_in_two_splits(_split_lines(workspace.get(), (context.partition_key,))))


@dg.asset_check(
    asset=splits,
    partitions_def=language_partitions,
    description="Every language that has data appears in train, validation and test",
)
def every_language_in_every_split(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    ws = workspace.get()
    present = {
        split: {l for l in LANGUAGES if (p := ws.split_manifest(l, split)).is_file() and read_jsonl(p)}
        for split in SPLITS
    }
    languages = set().union(*present.values())
    missing = {split: sorted(languages - langs) for split, langs in present.items() if languages - langs}
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "missing": dg.MetadataValue.json(missing),
            "languages": sorted(languages),
            "not_materialized": sorted(set(LANGUAGES) - languages),
        },
    )


@dg.asset_check(
    asset=splits,
    blocking=True,
    partitions_def=language_partitions,
    description="Every manifest line of the language is valid (schema in data/manifests.py)",
)
def manifest_lines_valid(context: dg.AssetCheckExecutionContext, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    ws = workspace.get()
    return _listed(
        [
            p
            for s in SPLITS
            if (path := ws.split_manifest(context.partition_key, s)).is_file()
            for p in validate_manifest_lines(path)[1]
        ]
    )


ALL_CHECKS = [
    unusable_fraction_below_threshold,
    no_transcriptless_audio_in_training,
    no_duplicate_across_splits,
    normalized_fraction_meets_target,
    no_speaker_in_two_splits,
    every_language_in_every_split,
    manifest_lines_valid,
]
