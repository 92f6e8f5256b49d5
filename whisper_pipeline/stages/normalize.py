"""The ``normalized_transcripts`` stage: the training text of every deduped utterance (``.norm.txt``):
NFC, annotations and speaker labels removed, quotes and dashes unified, Serbian Cyrillic → Latin;
``normalization_report.json`` names every failure."""

from __future__ import annotations

from whisper_pipeline.io import read_jsonl, write_json, write_jsonl, write_text
from whisper_pipeline.stages import DEFAULT_LOG, Log, StageResult, markdown_table
from whisper_pipeline.text.normalize import TARGET_FRACTION, NormalizationSettings, check_transcript
from whisper_pipeline.workspace import Workspace


def normalize_rows(rows: list[dict], settings: NormalizationSettings) -> tuple[list[dict], list[dict]]:
    """(rows with their ``transcript_norm``, failures): a failure names the file, its id, why, and the
    transcript as written."""
    kept, failed = [], []
    for r in rows:
        norm, reason = check_transcript(r["transcript"], keep_cyrillic=settings.keep_cyrillic)
        if reason:
            failed.append(
                {"file": r["filename"], "file_id": r["file_id"], "reason": reason, "transcript": r["transcript"]}
            )
        else:
            kept.append({**r, "transcript_norm": norm})
    return kept, failed


def normalization_report(
    rows: list[dict], kept: list[dict], failed: list[dict], settings: NormalizationSettings
) -> dict:
    """How many transcripts normalized (against ``TARGET_FRACTION``), how many changed, and every failure."""
    return {
        "files": len(rows),
        "normalized": len(kept),
        "fraction_normalized": round(len(kept) / len(rows) if rows else 0.0, 4),
        "target_fraction": TARGET_FRACTION,
        "keep_cyrillic": settings.keep_cyrillic,
        "changed_by_normalization": sum(r["transcript_norm"] != r["transcript"] for r in kept),
        "failed": failed,
    }


def normalize(ws: Workspace, lang: str, settings: NormalizationSettings, *, log: Log = DEFAULT_LOG) -> StageResult:
    """Write each kept utterance's ``ws.normalized_transcript``, ``ws.normalized`` (the deduped lines with
    ``transcript_norm`` and its path) and ``ws.normalization_report``; each failure is a warning."""
    rows = read_jsonl(ws.deduped(lang))
    kept, failed = normalize_rows(rows, settings)
    for r in kept:
        path = write_text(ws.normalized_transcript(lang, r["file_id"]), r["transcript_norm"] + "\n")
        r["transcript_norm_path"] = str(path)
    write_jsonl(ws.normalized(lang), kept)
    report = normalization_report(rows, kept, failed, settings)
    write_json(ws.normalization_report(lang), report)
    for f in failed:
        log.warning(f"{f['file']}: transcript not normalized: {f['reason']}")
    return StageResult(
        metadata={
            "normalized": len(kept),
            "fraction_normalized": report["fraction_normalized"],
            "changed_by_normalization": report["changed_by_normalization"],
            "report": ws.normalization_report(lang),
            "failed": markdown_table(failed, ["file", "reason"]),
            "example": markdown_table(
                [{"original": r["transcript"], "normalized": r["transcript_norm"]} for r in kept[:5]],
                ["original", "normalized"],
            ),
        }
    )
