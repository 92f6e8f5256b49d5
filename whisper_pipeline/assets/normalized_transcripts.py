import dagster as dg

from whisper_pipeline.assets.common import language_partitions, markdown_table
from whisper_pipeline.assets.deduped import deduped
from whisper_pipeline.io import read_jsonl, write_json, write_jsonl, write_text
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.text.normalize import normalize_transcript


@dg.asset(partitions_def=language_partitions, group_name="intake", deps=[deduped], kinds={"python"})
def normalized_transcripts(context: dg.AssetExecutionContext, workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Training text per utterance (``.norm.txt``): NFC, annotations removed, Serbian Cyrillic → Latin."""
    lang = context.partition_key
    ws = workspace.get()
    rows = read_jsonl(ws.lang_manifests(lang) / "deduped.jsonl")
    kept, failed = [], []
    for r in rows:
        norm = normalize_transcript(r["transcript"])
        if not norm:
            failed.append({"file": r["filename"], "reason": "transcript is empty after normalization"})
            continue
        path = ws.normalized_transcript(lang, r["file_id"])
        write_text(path, norm + "\n")
        kept.append({**r, "transcript_norm": norm, "transcript_norm_path": str(path)})
    write_jsonl(ws.lang_manifests(lang) / "normalized.jsonl", kept)
    fraction = len(kept) / len(rows) if rows else 0.0
    report = {"files": len(rows), "normalized": len(kept), "fraction_normalized": round(fraction, 4),
              "changed_by_normalization": sum(r["transcript_norm"] != r["transcript"] for r in kept), "failed": failed}
    write_json(ws.lang_manifests(lang) / "normalization_report.json", report)
    if failed:
        context.log.warning(f"{len(failed)} transcripts could not be normalized")
    return dg.MaterializeResult(metadata={
        "normalized": len(kept),
        "fraction_normalized": dg.MetadataValue.float(round(fraction, 4)),
        "changed_by_normalization": report["changed_by_normalization"],
        "failed": dg.MetadataValue.md(markdown_table(failed, ["file", "reason"])),
        "example": dg.MetadataValue.md(markdown_table(
            [{"original": r["transcript"], "normalized": r["transcript_norm"]} for r in kept[:5]], ["original", "normalized"])),
    })
