import dagster as dg

from whisper_pipeline.alignment.align import align_file, load_aligner, load_existing
from whisper_pipeline.assets.common import language_partitions, markdown_table, progress_logger
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.resources import ComputeResource, ModelSourceResource, WorkspaceResource


@dg.asset(partitions_def=language_partitions, group_name="dataset", deps=[processed_audio],
          kinds={"python", "pytorch"}, op_tags={"compute": "gpu"}, pool="gpu")
def alignments(context: dg.AssetExecutionContext, workspace: WorkspaceResource, base_model: ModelSourceResource,
               compute: ComputeResource) -> dg.MaterializeResult:
    """Word timestamps from stable-ts, aligning each known transcript to its audio → ``outputs/<file_id>/``."""
    lang = context.partition_key
    ws = workspace.get()
    lines = [l for s in SPLITS for l in read_jsonl(ws.processed_manifest(lang, s))]
    results, aligner = [], None
    report = progress_logger(context, f"aligned ({lang})")
    for n, line in enumerate(lines, 1):
        result = load_existing(ws.outputs, line["id"], line["transcript"])
        if result is None:
            if aligner is None:
                aligner = load_aligner(base_model.resolve(ws), compute.pick())
            result = align_file(aligner, line["audio"], line["transcript"], lang, line["id"], ws.outputs, line["duration"])
        results.append(vars(result))
        report(n, len(lines))
    write_jsonl(ws.lang_manifests(lang) / "alignments.jsonl", results)
    aligned = sum(r["status"] == "aligned" for r in results)
    flagged = [r for r in results if r["status"] != "aligned"]
    coverage = aligned / len(results) if results else 0.0
    if coverage < 0.8:
        context.log.warning(f"{lang}: timestamps for only {coverage:.0%} of files (target ≥ 80%)")
    return dg.MaterializeResult(metadata={
        "files": len(results),
        "aligned": aligned,
        "coverage": dg.MetadataValue.float(round(coverage, 4)),
        "flagged": dg.MetadataValue.md(markdown_table(flagged, ["file_id", "status", "reason"])),
        "outputs": dg.MetadataValue.path(str(ws.outputs)),
    })
