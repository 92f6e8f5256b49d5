import dagster as dg

from whisper_pipeline.assets.common import language_partitions
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.data.balance import BalanceRules, build_balance
from whisper_pipeline.data.manifests import combine_json
from whisper_pipeline.data.validation import validate_and_dedupe
from whisper_pipeline.io import file_lock, read_jsonl, write_json, write_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES


class BalanceConfig(dg.Config):
    """Thresholds of the balance audit's recommendations (see ``data/balance.py``)."""

    min_language_share: float = 0.25
    max_speaker_share: float = 0.3
    min_speakers: int = 5
    min_hours: float = 10.0


@dg.asset(partitions_def=language_partitions, group_name="intake", deps=[raw_audio], kinds={"python"})
def deduped(
    context: dg.AssetExecutionContext, config: BalanceConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Usable, transcribed files with duplicates flagged and left out (nothing is deleted), and the
    corpus balance audit (``manifests/dataset_balance.json``) over every language deduped so far."""
    lang = context.partition_key
    ws = workspace.get()
    rows = read_jsonl(ws.lang_manifests(lang) / "inventory.jsonl")
    kept, report = validate_and_dedupe(rows)
    write_jsonl(ws.lang_manifests(lang) / "deduped.jsonl", kept)
    write_json(ws.lang_manifests(lang) / "validation_report.json", report)
    combine_json(
        {l: ws.lang_manifests(l) / "validation_report.json" for l in LANGUAGES}, ws.manifests / "validation_report.json"
    )
    balance_path = ws.manifests / "dataset_balance.json"
    with file_lock(balance_path):
        parts = {l: ws.lang_manifests(l) / "deduped.jsonl" for l in LANGUAGES}
        balance = build_balance(
            {l: read_jsonl(p) for l, p in parts.items() if p.is_file()}, BalanceRules(**config.model_dump())
        )
        write_json(balance_path, balance)
    mine = [r for r in balance["recommendations"] if r["language"] == lang]
    for r in mine:
        (context.log.warning if r["severity"] == "warning" else context.log.info)(r["message"])
    return dg.MaterializeResult(
        metadata={
            "kept": report["kept"],
            "rejected": report["rejected"],
            "duplicates": len(report["duplicates"]),
            "kept_hours": dg.MetadataValue.float(report["kept_hours"]),
            "rejected_by_reason": dg.MetadataValue.json(report["rejected_by_reason"]),
            "report": dg.MetadataValue.path(str(ws.manifests / "validation_report.json")),
            "balance": dg.MetadataValue.path(str(balance_path)),
            "balance_by_dialect": dg.MetadataValue.json(balance["by_dialect"].get(lang, {})),
            "balance_by_snr": dg.MetadataValue.json(balance["by_snr"].get(lang, {})),
            "recommendations": dg.MetadataValue.md(
                "\n".join(f"- **{r['severity']}**: {r['message']}" for r in mine) or "_none_"
            ),
        }
    )
