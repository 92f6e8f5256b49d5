import json

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.common import language_partitions
from whisper_pipeline.assets.normalized_transcripts import normalized_transcripts
from whisper_pipeline.data.manifests import combine_jsonl, validate_manifest_lines
from whisper_pipeline.data.splits import (
    SPLITS,
    Assignments,
    SplitPolicy,
    make_splits,
    small_subset,
)
from whisper_pipeline.io import read_jsonl, write_json, write_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES


class SplitConfig(dg.Config):
    seed: int = Field(default=13, description="Same seed + same inputs ⇒ identical splits; a new seed reshuffles")
    validation_ratio: float = 0.1
    test_ratio: float = 0.1
    min_test_hours: float = Field(default=0.0, description="Per language; new speakers are moved into test to reach it")
    small_per_split: int = Field(default=8, description="Lines per split and language in run1_small.jsonl")


@dg.asset(partitions_def=language_partitions, group_name="dataset", deps=[normalized_transcripts], kinds={"python"})
def splits(
    context: dg.AssetExecutionContext, config: SplitConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Seeded, speaker-disjoint train/validation/test manifests (``manifests/splits/``), plus run1 and
    run1_small. Stable under growth: a speaker once assigned never changes split."""
    lang = context.partition_key
    ws = workspace.get()
    rows = read_jsonl(ws.lang_manifests(lang) / "normalized.jsonl")
    policy = SplitPolicy(config.seed, config.validation_ratio, config.test_ratio, config.min_test_hours)
    assignments_path = ws.lang_manifests(lang) / "split_assignments.json"
    remembered, reshuffled = Assignments.from_json(
        json.loads(assignments_path.read_text()) if assignments_path.is_file() else None, config.seed
    )
    if reshuffled:
        context.log.warning(
            f"{lang}: seed changed to {config.seed}: every speaker is assigned afresh; models trained "
            f"on the old splits must not be evaluated on the new test split"
        )
    by_split, assignments, summary = make_splits(rows, lang, policy, remembered)
    for split, lines in by_split.items():
        write_jsonl(ws.split_manifest(lang, split), lines)
    write_json(assignments_path, assignments.to_json())
    write_jsonl(ws.lang_manifests(lang) / "run1_small.jsonl", small_subset(by_split, config.small_per_split))
    for split in SPLITS:
        combine_jsonl([ws.split_manifest(l, split) for l in LANGUAGES], ws.manifests / "splits" / f"{split}.jsonl")
    combine_jsonl([ws.split_manifest(l, s) for l in LANGUAGES for s in SPLITS], ws.manifests / "run1.jsonl")
    combine_jsonl([ws.lang_manifests(l) / "run1_small.jsonl" for l in LANGUAGES], ws.manifests / "run1_small.jsonl")
    for split, why in summary["empty_splits"].items():
        context.log.warning(
            f"{lang}: no {split} split: {why}" + ("; evaluation will be skipped" if split == "test" else "")
        )
    if summary["moved"]:
        context.log.info(f"{lang}: new speakers moved to fill empty splits: {', '.join(summary['moved'])}")
    if set(summary["groups_by_kind"]) - {"speaker"}:
        context.log.warning(f"{lang}: some utterances have no speaker; grouped by {summary['groups_by_kind']} instead")
    test_hours = sum(l["duration"] for l in by_split["test"]) / 3600
    if test_hours < config.min_test_hours:
        context.log.warning(
            f"{lang}: only {test_hours:.2f} h of test audio (minimum {config.min_test_hours} h): add speakers"
        )
    meta: dict = {}
    for split, lines in by_split.items():
        meta[f"{split}_utterances"] = len(lines)
        meta[f"{split}_speakers"] = len({l["speaker"] for l in lines})
        meta[f"{split}_hours"] = dg.MetadataValue.float(round(sum(l["duration"] for l in lines) / 3600, 4))
    meta["grouping"] = dg.MetadataValue.json(summary["groups_by_kind"])
    meta["new_groups"] = len(summary["new_groups"])
    meta["moved_to_fill_splits"] = dg.MetadataValue.json(summary["moved"])
    meta["empty_splits"] = dg.MetadataValue.json(summary["empty_splits"])
    meta["groups_kept_in_their_split"] = summary["kept_groups"]
    meta["invalid_manifest_lines"] = sum(len(validate_manifest_lines(ws.split_manifest(lang, s))[1]) for s in SPLITS)
    meta["manifests"] = dg.MetadataValue.path(str(ws.manifests / "splits"))
    return dg.MaterializeResult(metadata=meta)
