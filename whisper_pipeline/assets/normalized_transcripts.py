import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.common import language_partitions, markdown_table
from whisper_pipeline.assets.deduped import deduped
from whisper_pipeline.io import read_jsonl, write_json, write_jsonl, write_text
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.text.normalize import check_transcript

TARGET_FRACTION = 0.95


class NormalizationConfig(dg.Config):
    keep_cyrillic: bool = Field(default=False, description="Train on Serbian Cyrillic as written instead of Latin")


@dg.asset(partitions_def=language_partitions, group_name="intake", deps=[deduped], kinds={"python"})
def normalized_transcripts(
    context: dg.AssetExecutionContext, config: NormalizationConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Training text per utterance (``.norm.txt``): NFC, annotations and speaker labels removed, quotes
    and dashes unified, Serbian Cyrillic → Latin; ``normalization_report.json`` names every failure."""
    lang = context.partition_key
    ws = workspace.get()
    rows = read_jsonl(ws.lang_manifests(lang) / "deduped.jsonl")
    kept, failed = [], []
    for r in rows:
        norm, reason = check_transcript(r["transcript"], keep_cyrillic=config.keep_cyrillic)
        if reason:
            failed.append(
                {"file": r["filename"], "file_id": r["file_id"], "reason": reason, "transcript": r["transcript"]}
            )
            continue
        path = ws.normalized_transcript(lang, r["file_id"])
        write_text(path, norm + "\n")
        kept.append({**r, "transcript_norm": norm, "transcript_norm_path": str(path)})
    write_jsonl(ws.lang_manifests(lang) / "normalized.jsonl", kept)
    fraction = len(kept) / len(rows) if rows else 0.0
    report = {
        "files": len(rows),
        "normalized": len(kept),
        "fraction_normalized": round(fraction, 4),
        "target_fraction": TARGET_FRACTION,
        "keep_cyrillic": config.keep_cyrillic,
        "changed_by_normalization": sum(r["transcript_norm"] != r["transcript"] for r in kept),
        "failed": failed,
    }
    write_json(ws.lang_manifests(lang) / "normalization_report.json", report)
    for f in failed:
        context.log.warning(f"{f['file']}: transcript not normalized: {f['reason']}")
    return dg.MaterializeResult(
        metadata={
            "normalized": len(kept),
            "fraction_normalized": dg.MetadataValue.float(round(fraction, 4)),
            "changed_by_normalization": report["changed_by_normalization"],
            "report": dg.MetadataValue.path(str(ws.lang_manifests(lang) / "normalization_report.json")),
            "failed": dg.MetadataValue.md(markdown_table(failed, ["file", "reason"])),
            "example": dg.MetadataValue.md(
                markdown_table(
                    [{"original": r["transcript"], "normalized": r["transcript_norm"]} for r in kept[:5]],
                    ["original", "normalized"],
                )
            ),
        }
    )
