"""Asset checks on the intake and the dataset: unusable files, normalization, leaks and validity of splits.

The data checks are partitioned like their assets: each judges the language of its run, so one
language's problem never fails another language's run (a leak check still compares against every
language's splits). ``every_language_in_every_split`` looks across languages by nature. What they read
and compute is in ``data/dataset_checks.py``.
"""

import dagster as dg

from whisper_pipeline.assets.common import config_from, language_partitions
from whisper_pipeline.assets.normalized_transcripts import normalized_transcripts
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.assets.splits import splits
from whisper_pipeline.data.dataset_checks import (
    UnusableThreshold,
    invalid_split_lines,
    inventory_rows,
    languages_by_split,
    normalized_fraction,
    recordings_in_two_splits,
    speakers_in_two_splits,
    split_coverage,
    split_lines,
    untrainable_training_lines,
    unusable_share,
)
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.text.normalize import TARGET_FRACTION
from whisper_pipeline.workspace import LANGUAGES

UnusableFractionConfig = config_from("UnusableFractionConfig", UnusableThreshold)


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
    rows = inventory_rows(workspace.get(), context.partition_key)
    fraction, unusable = unusable_share(rows)
    return dg.AssetCheckResult(
        passed=fraction <= config.max_unusable_fraction,
        metadata={
            "unusable_fraction": fraction,
            "unusable": unusable,
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
    return _listed(untrainable_training_lines(inventory_rows(ws, lang), split_lines(ws, (lang,))))


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
    inventory = [r for l in LANGUAGES for r in inventory_rows(ws, l)]
    return _listed(recordings_in_two_splits(inventory, split_lines(ws), split_lines(ws, (context.partition_key,))))


@dg.asset_check(
    asset=normalized_transcripts,
    partitions_def=language_partitions,
    description=f"At least {TARGET_FRACTION:.0%} of the language's transcripts normalize",
)
def normalized_fraction_meets_target(
    context: dg.AssetCheckExecutionContext, workspace: WorkspaceResource
) -> dg.AssetCheckResult:
    fraction = normalized_fraction(workspace.get(), context.partition_key)
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
    return _listed(speakers_in_two_splits(split_lines(workspace.get(), (context.partition_key,))))


@dg.asset_check(
    asset=splits,
    partitions_def=language_partitions,
    description="Every language that has data appears in train, validation and test",
)
def every_language_in_every_split(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    coverage = split_coverage(languages_by_split(workspace.get()))
    return dg.AssetCheckResult(
        passed=not coverage["missing"],
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "missing": dg.MetadataValue.json(coverage["missing"]),
            "languages": coverage["languages"],
            "not_materialized": coverage["not_materialized"],
        },
    )


@dg.asset_check(
    asset=splits,
    blocking=True,
    partitions_def=language_partitions,
    description="Every manifest line of the language is valid (schema in data/manifests.py)",
)
def manifest_lines_valid(context: dg.AssetCheckExecutionContext, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    return _listed(invalid_split_lines(workspace.get(), context.partition_key))


ALL_CHECKS = [
    unusable_fraction_below_threshold,
    no_transcriptless_audio_in_training,
    no_duplicate_across_splits,
    normalized_fraction_meets_target,
    no_speaker_in_two_splits,
    every_language_in_every_split,
    manifest_lines_valid,
]
