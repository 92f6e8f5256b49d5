import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from whisper_pipeline.alignment.align import align_file, load_aligner, load_existing
from whisper_pipeline.alignment.segment import (
    MAX_SEGMENT_S,
    cut_segments,
    segment_cues,
    segment_words,
)
from whisper_pipeline.assets.common import (
    language_partitions,
    markdown_table,
    progress_logger,
)
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.resources import (
    ComputeResource,
    ModelSourceResource,
    WorkspaceResource,
)


class AlignmentConfig(dg.Config):
    max_segment_s: float = Field(
        default=MAX_SEGMENT_S, description="Longer recordings are cut into segments of at most this"
    )
    min_coverage: float = Field(default=0.8, description="Warn when fewer files than this get trustworthy timestamps")


def _words(json_path: str) -> list[dict]:
    doc = json.loads(Path(json_path).read_text(encoding="utf-8"))
    return [w for s in doc["segments"] for w in s["words"]]


def _cues(line: dict) -> list[dict] | None:
    """Subtitle cues of a harvested recording, shifted onto the silence-trimmed processed audio."""
    path = Path(line.get("source_audio", "")).with_suffix(".cues.json")
    if not path.is_file():
        return None
    shift = (line.get("trim") or [0.0, 0.0])[0]
    return [
        {**c, "start": max(0.0, c["start"] - shift), "end": max(0.0, c["end"] - shift)}
        for c in json.loads(path.read_text(encoding="utf-8"))
    ]


@dg.asset(
    partitions_def=language_partitions,
    group_name="dataset",
    deps=[processed_audio],
    kinds={"python", "pytorch"},
    op_tags={"compute": "gpu"},
    pool="gpu",
)
def alignments(
    context: dg.AssetExecutionContext,
    config: AlignmentConfig,
    workspace: WorkspaceResource,
    base_model: ModelSourceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """Word timestamps from stable-ts aligning each known transcript to its audio → ``outputs/<file_id>/``
    (JSON, TXT, SRT, VTT, karaoke LRC); recordings over 30 s cut into segments at word boundaries
    (or subtitle cues) → ``manifests/training/<lang>/<split>.jsonl``."""
    lang = context.partition_key
    ws = workspace.get()
    lines = [l for s in SPLITS for l in read_jsonl(ws.processed_manifest(lang, s))]
    results, aligner, aligned_now = [], None, 0
    report = progress_logger(context, f"aligned ({lang})")
    for n, line in enumerate(lines, 1):
        result = load_existing(ws.outputs, line["id"], line["transcript"])  # finished by an earlier (killed) run
        if result is None:
            if aligner is None:
                aligner = load_aligner(base_model.resolve(ws), compute.pick())
            result = align_file(
                aligner, line["audio"], line["transcript"], lang, line["id"], ws.outputs, line["duration"]
            )
            aligned_now += 1
        results.append(vars(result))
        report(n, len(lines))
    write_jsonl(ws.lang_manifests(lang) / "alignments.jsonl", results)

    by_id = {r["file_id"]: r for r in results}
    ready: dict[str, list[dict]] = {s: [] for s in SPLITS}
    long_form, unsegmented = [], []
    for line in lines:
        if line["duration"] <= config.max_segment_s:
            ready[line["split"]].append(line)
            continue
        result = by_id[line["id"]]
        try:
            if result["status"] == "aligned":
                segments, how = (
                    segment_words(
                        line["transcript"],
                        _words(result["json_path"]),
                        config.max_segment_s,
                        audio_end=line["duration"],
                    ),
                    "words",
                )
            elif (cues := _cues(line)) is not None:
                segments, how = segment_cues(cues, config.max_segment_s), "subtitle cues"
            else:
                raise ValueError(f"alignment {result['status']} ({result['reason']}) and no subtitle cues")
        except ValueError as exc:
            unsegmented.append({"file_id": line["id"], "reason": str(exc)})
            context.log.warning(f"{line['id']}: {line['duration']:.0f}s recording left out of training: {exc}")
            continue
        pieces = cut_segments(line, segments, lambda seg_id: ws.segment_audio(lang, seg_id))
        ready[line["split"]] += pieces
        long_form.append({"file_id": line["id"], "duration": line["duration"], "segments": len(pieces), "by": how})
    for split, split_lines in ready.items():
        write_jsonl(ws.training_manifest(lang, split), split_lines)

    aligned = sum(r["status"] == "aligned" for r in results)
    flagged = [r for r in results if r["status"] != "aligned"]
    coverage = aligned / len(results) if results else 0.0
    if coverage < config.min_coverage:
        context.log.warning(f"{lang}: timestamps for only {coverage:.0%} of files (target ≥ {config.min_coverage:.0%})")
    return dg.MaterializeResult(
        metadata={
            "files": len(results),
            "aligned_this_run": aligned_now,
            "reused": len(results) - aligned_now,
            "aligned": aligned,
            "coverage": dg.MetadataValue.float(round(coverage, 4)),
            "flagged": dg.MetadataValue.md(markdown_table(flagged, ["file_id", "status", "reason"])),
            "long_form_files": len(long_form),
            "segments_from_long_form": sum(l["segments"] for l in long_form),
            "long_form": dg.MetadataValue.md(markdown_table(long_form, ["file_id", "duration", "segments", "by"])),
            "long_form_left_out": dg.MetadataValue.md(markdown_table(unsegmented, ["file_id", "reason"])),
            "training_manifests": dg.MetadataValue.path(str(ws.training_manifest(lang, "train").parent)),
            "outputs": dg.MetadataValue.path(str(ws.outputs)),
        }
    )
