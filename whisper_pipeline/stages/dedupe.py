"""The ``deduped`` stage: usable, transcribed files with duplicates flagged and left out (nothing is
deleted), the validation report, and the corpus balance audit over every language deduped so far."""

from __future__ import annotations

from whisper_pipeline.data.balance import BalanceRules, build_balance
from whisper_pipeline.data.manifests import write_language_part
from whisper_pipeline.data.validation import validate_and_dedupe
from whisper_pipeline.io import file_lock, read_jsonl, write_json, write_jsonl
from whisper_pipeline.stages import DEFAULT_LOG, Log, Markdown, StageResult
from whisper_pipeline.workspace import LANGUAGES, Workspace


def update_balance(ws: Workspace, rules: BalanceRules) -> dict:
    """Rebuild ``ws.dataset_balance`` from every language's deduped files (under a lock, as partitions run
    in parallel) and return it."""
    with file_lock(ws.dataset_balance):
        parts = {l: ws.deduped(l) for l in LANGUAGES}
        balance = build_balance({l: read_jsonl(p) for l, p in parts.items() if p.is_file()}, rules)
        write_json(ws.dataset_balance, balance)
    return balance


def dedupe(ws: Workspace, lang: str, rules: BalanceRules, *, log: Log = DEFAULT_LOG) -> StageResult:
    """Read the inventory, write ``ws.deduped`` and the validation report (part + combined), update the
    balance audit, and log this language's recommendations (warnings as warnings, the rest as info)."""
    kept, report = validate_and_dedupe(read_jsonl(ws.inventory(lang)))
    write_jsonl(ws.deduped(lang), kept)
    write_language_part(ws.validation_report, lang, report)
    balance = update_balance(ws, rules)
    mine = [r for r in balance["recommendations"] if r["language"] == lang]
    for r in mine:
        (log.warning if r["severity"] == "warning" else log.info)(r["message"])
    return StageResult(
        metadata={
            "kept": report["kept"],
            "rejected": report["rejected"],
            "duplicates": len(report["duplicates"]),
            "kept_hours": float(report["kept_hours"]),
            "rejected_by_reason": report["rejected_by_reason"],
            "report": ws.validation_report.combined,
            "balance": ws.dataset_balance,
            "balance_by_dialect": balance["by_dialect"].get(lang, {}),
            "balance_by_snr": balance["by_snr"].get(lang, {}),
            "recommendations": Markdown("\n".join(f"- **{r['severity']}**: {r['message']}" for r in mine) or "_none_"),
        }
    )
