import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.common import (
    language_partitions,
    markdown_table,
    progress_logger,
)
from whisper_pipeline.assets.splits import splits
from whisper_pipeline.audio.preprocess import (
    PreprocessOptions,
    duration_mismatches,
    preprocess_rows,
)
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.resources import WorkspaceResource


class PreprocessConfig(dg.Config):
    trim_silence: bool = Field(default=True, description="Trim leading/trailing non-speech found by silero-VAD")
    vad_threshold: float = 0.5
    margin_s: float = Field(default=0.25, description="Audio kept before the first and after the last speech")
    loudness_lufs: float | None = Field(default=None, description="Normalize loudness to this LUFS (e.g. -23)")
    format: str = Field(default="wav", description="wav or flac (16-bit either way)")
    workers: int = Field(default=0, description="Worker processes; 0 = one per CPU core")


@dg.asset(partitions_def=language_partitions, group_name="dataset", deps=[splits], kinds={"python", "audio"})
def processed_audio(
    context: dg.AssetExecutionContext, config: PreprocessConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """16 kHz mono 16-bit audio of every split line under ``processed/audio/<lang>/``: soxr resampling,
    VAD silence trimming, optional loudness normalization; incremental; durations re-checked."""
    if config.format not in ("wav", "flac"):
        raise dg.Failure(f"processed_audio: format must be 'wav' or 'flac', not {config.format!r}")
    lang = context.partition_key
    ws = workspace.get()
    options = PreprocessOptions(
        config.trim_silence, config.vad_threshold, config.margin_s, config.loudness_lufs, config.format
    )
    totals = {"converted": 0, "files": 0, "seconds": 0.0, "source_seconds": 0.0}
    all_lines, all_errors = [], []
    for split in SPLITS:
        rows = read_jsonl(ws.split_manifest(lang, split))
        target = ws.processed_manifest(lang, split)
        previous = {r["id"]: r for r in read_jsonl(target)} if target.is_file() else {}
        lines, converted, errors = preprocess_rows(
            rows,
            lambda r: ws.processed_audio(lang, r["id"]),
            previous,
            options,
            workers=config.workers or None,
            progress=progress_logger(context, f"processed {split} ({lang})"),
        )
        write_jsonl(target, lines)
        totals["converted"] += converted
        totals["files"] += len(lines)
        totals["seconds"] += sum(l["duration"] for l in lines)
        totals["source_seconds"] += sum(l["manifest_duration"] for l in lines)
        all_lines += lines
        all_errors += errors
    for e in all_errors:
        context.log.error(e)
    mismatches = duration_mismatches(all_lines)
    if mismatches:
        raise dg.Failure(
            description=f"{len(mismatches)} processed files do not match the manifest duration",
            metadata={"mismatches": dg.MetadataValue.md("\n".join(f"- {m}" for m in mismatches[:50]))},
        )
    flagged = [
        {"id": l["id"], "flags": "; ".join(l["preprocess_flags"])} for l in all_lines if l.get("preprocess_flags")
    ]
    return dg.MaterializeResult(
        metadata={
            "files": totals["files"],
            "converted_this_run": totals["converted"],
            "reused": totals["files"] - totals["converted"],
            "failed": len(all_errors),
            "hours": dg.MetadataValue.float(round(totals["seconds"] / 3600, 4)),
            "silence_trimmed_hours": dg.MetadataValue.float(
                round((totals["source_seconds"] - totals["seconds"]) / 3600, 4)
            ),
            "flagged": dg.MetadataValue.md(markdown_table(flagged, ["id", "flags"])),
            "errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in all_errors[:50]) or "_none_"),
            "directory": dg.MetadataValue.path(str(ws.processed / "audio" / lang)),
        }
    )
