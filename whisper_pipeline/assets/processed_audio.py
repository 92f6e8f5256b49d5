import dagster as dg

from whisper_pipeline.assets.common import language_partitions, progress_logger
from whisper_pipeline.assets.splits import splits
from whisper_pipeline.audio.preprocess import duration_mismatches, preprocess_rows
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.resources import WorkspaceResource


@dg.asset(partitions_def=language_partitions, group_name="dataset", deps=[splits], kinds={"python", "audio"})
def processed_audio(context: dg.AssetExecutionContext, workspace: WorkspaceResource) -> dg.MaterializeResult:
    """16 kHz mono 16-bit WAV of every split line under ``processed/audio/<lang>/``; durations checked."""
    lang = context.partition_key
    ws = workspace.get()
    totals = {"converted": 0, "files": 0, "seconds": 0.0}
    all_lines = []
    for split in SPLITS:
        rows = read_jsonl(ws.split_manifest(lang, split))
        target = ws.processed_manifest(lang, split)
        previous = {r["id"]: r for r in read_jsonl(target)} if target.is_file() else {}
        lines, converted = preprocess_rows(rows, lambda r: ws.processed_audio(lang, r["id"]), previous,
                                           progress=progress_logger(context, f"converted {split} ({lang})"))
        write_jsonl(target, lines)
        totals["converted"] += converted
        totals["files"] += len(lines)
        totals["seconds"] += sum(l["duration"] for l in lines)
        all_lines += lines
    mismatches = duration_mismatches(all_lines)
    if mismatches:
        raise dg.Failure(description=f"{len(mismatches)} processed files do not match the manifest duration",
                         metadata={"mismatches": dg.MetadataValue.md("\n".join(f"- {m}" for m in mismatches[:50]))})
    return dg.MaterializeResult(metadata={
        "files": totals["files"],
        "converted_this_run": totals["converted"],
        "reused": totals["files"] - totals["converted"],
        "hours": dg.MetadataValue.float(round(totals["seconds"] / 3600, 4)),
        "directory": dg.MetadataValue.path(str(ws.processed / "audio" / lang)),
    })
