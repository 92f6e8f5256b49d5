"""The ``raw_audio`` stage: harvest the configured sources (optional), then inventory ``uploads/<lang>/``:
every file decoded and classified, problems named, never fatal.

Incremental: unchanged files are only stat'ed; known content (by SHA-256) is never decoded twice.
"""

from __future__ import annotations

import os
from collections import Counter

from whisper_pipeline.data.discovery import SourceItem, discover, find_orphan_transcripts
from whisper_pipeline.data.inventory import (
    INVENTORY_COLUMNS,
    IntakeCache,
    IntakeRules,
    build_inventory,
    inventory_table_row,
    summarize_inventory,
)
from whisper_pipeline.data.manifests import write_language_part
from whisper_pipeline.governance.removal import excluded, load_exclusions
from whisper_pipeline.harvest.sources import HarvestOptions, load_sources
from whisper_pipeline.harvest.ytdlp import HarvestedItem, append_harvest_log, harvest
from whisper_pipeline.io import write_jsonl
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.stages import DEFAULT_LOG, Log, Markdown, Progress, StageResult, markdown_table
from whisper_pipeline.workspace import Workspace


def harvest_sources(ws: Workspace, lang: str, options: HarvestOptions, run_id: str, log: Log) -> list[HarvestedItem]:
    """Download the language's new items from the sources file (when asked to and it names any), into the
    uploads; each item is appended to the harvest log under ``run_id``; failures are warnings."""
    if not options.harvest:
        return []
    sources = load_sources(options.sources_file)
    removed = load_exclusions(ws).sources
    for s in sources.sources:
        if s.language == lang and s.url in removed:
            log.warning(f"{s.url}: not harvested: {removed[s.url]}")
    sources = sources.model_copy(update={"sources": [s for s in sources.sources if s.url not in removed]})
    mine = sum(s.language == lang for s in sources.sources)
    if not mine:
        return []
    log.info(f"harvesting {mine} source(s) for {lang}")
    harvested = harvest(sources, ws.uploads, ws.harvest_archive(lang), lang)
    append_harvest_log(ws.harvest_log(lang), harvested, run_id)
    for h in harvested:
        if h.status == "failed":
            log.warning(f"harvest failed for {h.source_url}: {h.reason}")
    return harvested


def skip_removed(ws: Workspace, items: list[SourceItem], cache: IntakeCache, log: Log) -> tuple[list[SourceItem], int]:
    """The items whose path, source or content was not removed (``ws.removals``), and how many were: data
    removed on purpose never comes back through a re-upload or a new harvest; each refusal is a warning."""
    exclusions = load_exclusions(ws)
    if not exclusions:
        return items, 0
    kept = []
    for item in items:
        known = cache.by_path.get(item.audio)
        stat = os.stat(item.audio)
        sha = known[2] if known and known[:2] == [stat.st_size, stat.st_mtime_ns] else None
        if why := excluded(item, exclusions, sha):
            log.warning(f"{item.audio}: not taken in: its data was {why}")
        else:
            kept.append(item)
    return kept, len(items) - len(kept)


def intake(
    ws: Workspace,
    lang: str,
    rules: IntakeRules,
    options: HarvestOptions,
    *,
    run_id: str = "",
    log: Log = DEFAULT_LOG,
    progress: Progress | None = None,
    parallel: ParallelSettings | None = None,
) -> StageResult:
    """Harvest, then write the inventory (``ws.inventory``), its table (csv + parquet, this language's part
    and the combined file) and the intake cache; every unusable file is logged as a warning. New files are
    decoded in worker processes, or on Ray (``parallel``)."""
    harvested = harvest_sources(ws, lang, options, run_id, log)
    items, problems = discover(ws.uploads, lang)
    for problem in problems:
        log.warning(problem)
    orphans = find_orphan_transcripts(ws.uploads, lang, items)
    cache = IntakeCache(ws.intake_cache(lang))
    items, refused = skip_removed(ws, items, cache, log)
    rows = build_inventory(items, ws.uploads, cache, rules, orphans, progress=progress, parallel=parallel)
    cache.save()
    table = [inventory_table_row(r) for r in rows]
    write_jsonl(ws.inventory(lang), rows)
    write_language_part(ws.dataset_inventory_csv, lang, table, columns=INVENTORY_COLUMNS)
    write_language_part(ws.dataset_inventory_parquet, lang, table)
    summary = summarize_inventory(rows)
    bad = [r for r in rows if r["status"] != "ok"]
    for r in bad:
        log.warning(f"{r['filename']}: {r['reason']}")
    flagged = [{"filename": r["filename"], "flags": "; ".join(r["flags"])} for r in rows if r["flags"]]
    return StageResult(
        metadata={
            **{k: v for k, v in summary.items() if not isinstance(v, dict)},
            "transcript_encodings": summary["transcript_encodings"],
            "decoded_this_run": cache.decoded,
            "harvested": dict(Counter(h.status for h in harvested)),
            "hashed_this_run": cache.hashed,
            "refused_as_removed": refused,
            "inventory": ws.dataset_inventory_csv.combined,
            "metadata_problems": Markdown("\n".join(f"- {p}" for p in problems) or "_none_"),
            "not_usable": markdown_table(bad, ["filename", "status", "reason"]),
            "flagged": markdown_table(flagged, ["filename", "flags"]),
        }
    )
