import json
from collections import Counter

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.common import (
    language_partitions,
    markdown_table,
    progress_logger,
)
from whisper_pipeline.data.discovery import discover, find_orphan_transcripts
from whisper_pipeline.data.inventory import (
    INVENTORY_COLUMNS,
    IntakeCache,
    IntakeRules,
    build_inventory,
    inventory_table_row,
    summarize_inventory,
)
from whisper_pipeline.data.manifests import combine_csv, combine_parquet, write_parquet
from whisper_pipeline.harvest.sources import load_sources
from whisper_pipeline.harvest.ytdlp import harvest
from whisper_pipeline.io import write_csv, write_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES, REPO_ROOT


class IntakeConfig(dg.Config):
    min_chars_per_second: float = 2.0
    max_chars_per_second: float = 30.0
    harvest: bool = Field(default=True, description="Download new items from the sources file first")
    sources_file: str = Field(default=str(REPO_ROOT / "configs" / "sources.yaml"), description="yt-dlp sources (YAML)")


@dg.asset(partitions_def=language_partitions, group_name="intake", kinds={"python", "audio"})
def raw_audio(
    context: dg.AssetExecutionContext, config: IntakeConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Inventory of ``uploads/<lang>/``: every file decoded and classified; problems named, never fatal.

    Incremental: unchanged files are only stat'ed; known content (by SHA-256) is never decoded twice.
    """
    lang = context.partition_key
    ws = workspace.get()
    harvested = []
    if config.harvest:
        sources = load_sources(config.sources_file)
        if any(s.language == lang for s in sources.sources):
            context.log.info(f"harvesting {sum(s.language == lang for s in sources.sources)} source(s) for {lang}")
            harvested = harvest(sources, ws.uploads, ws.lang_manifests(lang) / "harvest_archive.txt", lang)
            with open(ws.lang_manifests(lang) / "harvest_log.jsonl", "a", encoding="utf-8") as log:
                for h in harvested:
                    log.write(json.dumps({"run_id": context.run_id, **h.as_dict()}, ensure_ascii=False) + "\n")
            for h in harvested:
                if h.status == "failed":
                    context.log.warning(f"harvest failed for {h.source_url}: {h.reason}")
    items, problems = discover(ws.uploads, lang)
    for problem in problems:
        context.log.warning(problem)
    orphans = find_orphan_transcripts(ws.uploads, lang, items)
    cache = IntakeCache(ws.lang_manifests(lang) / "intake_cache.json")
    rules = IntakeRules(config.min_chars_per_second, config.max_chars_per_second)
    rows = build_inventory(
        items, ws.uploads, cache, rules, orphans, progress=progress_logger(context, f"checked audio ({lang})")
    )
    cache.save()
    table = [inventory_table_row(r) for r in rows]
    write_jsonl(ws.lang_manifests(lang) / "inventory.jsonl", rows)
    write_csv(ws.lang_manifests(lang) / "dataset_inventory.csv", table, INVENTORY_COLUMNS)
    write_parquet(ws.lang_manifests(lang) / "dataset_inventory.parquet", table)
    combine_csv(
        [ws.lang_manifests(l) / "dataset_inventory.csv" for l in LANGUAGES],
        ws.manifests / "dataset_inventory.csv",
        INVENTORY_COLUMNS,
    )
    combine_parquet(
        [ws.lang_manifests(l) / "dataset_inventory.parquet" for l in LANGUAGES],
        ws.manifests / "dataset_inventory.parquet",
    )
    summary = summarize_inventory(rows)
    bad = [r for r in rows if r["status"] != "ok"]
    for r in bad:
        context.log.warning(f"{r['filename']}: {r['reason']}")
    return dg.MaterializeResult(
        metadata={
            **{
                k: dg.MetadataValue.int(v) if isinstance(v, int) else dg.MetadataValue.float(v)
                for k, v in summary.items()
                if not isinstance(v, dict)
            },
            "transcript_encodings": dg.MetadataValue.json(summary["transcript_encodings"]),
            "decoded_this_run": cache.decoded,
            "harvested": dg.MetadataValue.json(dict(Counter(h.status for h in harvested))),
            "hashed_this_run": cache.hashed,
            "inventory": dg.MetadataValue.path(str(ws.manifests / "dataset_inventory.csv")),
            "metadata_problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "_none_"),
            "not_usable": dg.MetadataValue.md(markdown_table(bad, ["filename", "status", "reason"])),
            "flagged": dg.MetadataValue.md(
                markdown_table(
                    [{"filename": r["filename"], "flags": "; ".join(r["flags"])} for r in rows if r["flags"]],
                    ["filename", "flags"],
                )
            ),
        }
    )
