import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.common import language_partitions
from whisper_pipeline.assets.normalized_transcripts import normalized_transcripts
from whisper_pipeline.data.manifests import combine_jsonl
from whisper_pipeline.data.splits import SPLITS, make_splits, small_subset
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES


class SplitConfig(dg.Config):
    seed: int = Field(default=13, description="Same seed + same inputs ⇒ identical splits")
    validation_ratio: float = 0.1
    test_ratio: float = 0.1
    small_per_split: int = Field(default=8, description="Lines per split and language in run1_small.jsonl")


@dg.asset(partitions_def=language_partitions, group_name="dataset", deps=[normalized_transcripts], kinds={"python"})
def splits(context: dg.AssetExecutionContext, config: SplitConfig, workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Seeded, speaker-disjoint train/validation/test manifests (``manifests/splits/``), plus run1 and run1_small."""
    lang = context.partition_key
    ws = workspace.get()
    rows = read_jsonl(ws.lang_manifests(lang) / "normalized.jsonl")
    by_split = make_splits(rows, lang, config.seed, config.validation_ratio, config.test_ratio)
    for split, lines in by_split.items():
        write_jsonl(ws.split_manifest(lang, split), lines)
    write_jsonl(ws.lang_manifests(lang) / "run1_small.jsonl", small_subset(by_split, config.small_per_split))
    for split in SPLITS:
        combine_jsonl([ws.split_manifest(l, split) for l in LANGUAGES], ws.manifests / "splits" / f"{split}.jsonl")
    combine_jsonl([ws.split_manifest(l, s) for l in LANGUAGES for s in SPLITS], ws.manifests / "run1.jsonl")
    combine_jsonl([ws.lang_manifests(l) / "run1_small.jsonl" for l in LANGUAGES], ws.manifests / "run1_small.jsonl")
    if not by_split["test"]:
        context.log.warning(f"{lang}: fewer than 2 speakers, so no test split; evaluation will be skipped")
    meta: dict = {}
    for split, lines in by_split.items():
        meta[f"{split}_utterances"] = len(lines)
        meta[f"{split}_speakers"] = len({l["speaker"] for l in lines})
        meta[f"{split}_hours"] = dg.MetadataValue.float(round(sum(l["duration"] for l in lines) / 3600, 4))
    meta["manifests"] = dg.MetadataValue.path(str(ws.manifests / "splits"))
    return dg.MaterializeResult(metadata=meta)
