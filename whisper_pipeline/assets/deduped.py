import dagster as dg

from whisper_pipeline.assets.common import language_partitions
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.data.manifests import combine_json
from whisper_pipeline.data.validation import validate_and_dedupe
from whisper_pipeline.io import read_jsonl, write_json, write_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES


@dg.asset(partitions_def=language_partitions, group_name="intake", deps=[raw_audio], kinds={"python"})
def deduped(context: dg.AssetExecutionContext, workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Usable, transcribed files with exact duplicates (same content hash) flagged and left out; nothing is deleted."""
    lang = context.partition_key
    ws = workspace.get()
    rows = read_jsonl(ws.lang_manifests(lang) / "inventory.jsonl")
    kept, report = validate_and_dedupe(rows)
    write_jsonl(ws.lang_manifests(lang) / "deduped.jsonl", kept)
    write_json(ws.lang_manifests(lang) / "validation_report.json", report)
    combine_json({l: ws.lang_manifests(l) / "validation_report.json" for l in LANGUAGES},
                 ws.manifests / "validation_report.json")
    return dg.MaterializeResult(metadata={
        "kept": report["kept"],
        "rejected": report["rejected"],
        "duplicates": len(report["duplicates"]),
        "kept_hours": dg.MetadataValue.float(report["kept_hours"]),
        "rejected_by_reason": dg.MetadataValue.json(report["rejected_by_reason"]),
        "report": dg.MetadataValue.path(str(ws.manifests / "validation_report.json")),
    })
