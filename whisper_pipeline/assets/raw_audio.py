import dagster as dg

from whisper_pipeline.assets.common import language_partitions, markdown_table, progress_logger
from whisper_pipeline.data.discovery import discover
from whisper_pipeline.data.inventory import INVENTORY_COLUMNS, build_inventory, summarize_inventory
from whisper_pipeline.data.manifests import combine_csv
from whisper_pipeline.io import read_jsonl, write_csv, write_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES


@dg.asset(partitions_def=language_partitions, group_name="intake", kinds={"python", "audio"})
def raw_audio(context: dg.AssetExecutionContext, workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Inventory of ``uploads/<lang>/``: every file decoded and classified; bad files reported, not fatal."""
    lang = context.partition_key
    ws = workspace.get()
    items, problems = discover(ws.uploads, lang)
    for problem in problems:
        context.log.warning(problem)
    inventory_jsonl = ws.lang_manifests(lang) / "inventory.jsonl"
    previous = {r["audio"]: r for r in read_jsonl(inventory_jsonl)} if inventory_jsonl.is_file() else {}
    rows = build_inventory(items, ws.uploads, previous, progress=progress_logger(context, f"checked audio ({lang})"))
    write_jsonl(inventory_jsonl, rows)
    write_csv(ws.lang_manifests(lang) / "dataset_inventory.csv", rows, INVENTORY_COLUMNS)
    combine_csv([ws.lang_manifests(l) / "dataset_inventory.csv" for l in LANGUAGES],
                ws.manifests / "dataset_inventory.csv", INVENTORY_COLUMNS)
    summary = summarize_inventory(rows)
    bad = [r for r in rows if r["status"] != "ok"]
    for r in bad:
        context.log.warning(f"{r['filename']}: {r['reason']}")
    return dg.MaterializeResult(metadata={
        **{k: dg.MetadataValue.int(v) if isinstance(v, int) else dg.MetadataValue.float(v) for k, v in summary.items()},
        "inventory": dg.MetadataValue.path(str(ws.manifests / "dataset_inventory.csv")),
        "metadata_problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "_none_"),
        "not_usable": dg.MetadataValue.md(markdown_table(bad, ["filename", "status", "reason"])),
    })
