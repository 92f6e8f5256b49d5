"""Asset checks on the intake and the dataset: unusable files, normalization, leaks and validity of splits.

They look at every language that has been materialized, so they read the same in any run.
"""

import json

import dagster as dg
from pydantic import Field

from whisper_pipeline.assets.eval_report import eval_report
from whisper_pipeline.assets.normalized_transcripts import TARGET_FRACTION, normalized_transcripts
from whisper_pipeline.assets.promote import GateConfig, evaluations, last_evaluated_run
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.assets.splits import splits
from whisper_pipeline.data.manifests import validate_manifest_lines
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.evaluation.gates import regression_gate, wer_ceiling_gate
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import LANGUAGES, Workspace


class UnusableFractionConfig(dg.Config):
    max_unusable_fraction: float = Field(default=0.2, description="Fail when more than this share of files is unusable")


def _inventories(ws: Workspace) -> dict[str, list[dict]]:
    return {l: read_jsonl(p) for l in LANGUAGES if (p := ws.lang_manifests(l) / "inventory.jsonl").is_file()}


def _split_lines(ws: Workspace) -> list[dict]:
    return [line for l in LANGUAGES for s in SPLITS if (p := ws.split_manifest(l, s)).is_file() for line in read_jsonl(p)]


@dg.asset_check(asset=raw_audio, description="Share of unusable files per language stays under a threshold")
def unusable_fraction_below_threshold(config: UnusableFractionConfig, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    fractions = {
        lang: round(sum(r["status"] == "unusable" for r in rows) / len(rows), 4) if rows else 0.0
        for lang, rows in _inventories(workspace.get()).items()
    }
    worst = max(fractions.values(), default=0.0)
    return dg.AssetCheckResult(
        passed=worst <= config.max_unusable_fraction,
        metadata={"unusable_fraction": dg.MetadataValue.json(fractions), "threshold": config.max_unusable_fraction},
    )


@dg.asset_check(asset=splits, blocking=True, description="Every training line has usable audio and a transcript")
def no_transcriptless_audio_in_training(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    ws = workspace.get()
    status = {r["sha256"]: r["status"] for rows in _inventories(ws).values() for r in rows if r.get("sha256")}
    bad = [l["id"] for l in _split_lines(ws) if l["split"] == "train"
           and (not l["transcript"].strip() or status.get(l["sha256"]) not in ("ok", None))]
    return dg.AssetCheckResult(passed=not bad, metadata={"offending": dg.MetadataValue.json(bad[:50]), "count": len(bad)})


@dg.asset_check(asset=splits, blocking=True, description="No recording (exact or re-encoded copy) in two splits")
def no_duplicate_across_splits(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    ws = workspace.get()
    # Every copy of a recording maps to its kept original, so copies and originals compare equal.
    canonical = {r["file_id"]: r["duplicate_of"] or r["file_id"] for rows in _inventories(ws).values() for r in rows}
    by_hash = {r["sha256"]: canonical[r["file_id"]] for rows in _inventories(ws).values() for r in rows if r.get("sha256")}
    seen: dict[str, str] = {}
    leaks = []
    for line in _split_lines(ws):
        key = by_hash.get(line["sha256"], canonical.get(line["id"], line["id"]))
        first = seen.setdefault(key, line["split"])
        if first != line["split"]:
            leaks.append(f"{line['id']} in {line['split']} and {first}")
    return dg.AssetCheckResult(passed=not leaks, metadata={"leaks": dg.MetadataValue.json(leaks[:50]), "count": len(leaks)})


@dg.asset_check(asset=normalized_transcripts, description=f"At least {TARGET_FRACTION:.0%} of transcripts normalize")
def normalized_fraction_meets_target(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    ws = workspace.get()
    fractions = {l: json.loads(p.read_text())["fraction_normalized"] for l in LANGUAGES
                 if (p := ws.lang_manifests(l) / "normalization_report.json").is_file()}
    return dg.AssetCheckResult(
        passed=all(f >= TARGET_FRACTION for f in fractions.values()),
        metadata={"fraction_normalized": dg.MetadataValue.json(fractions), "target": TARGET_FRACTION},
    )


@dg.asset_check(asset=splits, blocking=True, description="No speaker (or fallback group) in two splits")
def no_speaker_in_two_splits(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    seen: dict[tuple[str, str], set[str]] = {}
    for line in _split_lines(workspace.get()):
        seen.setdefault((line["language"], line.get("group") or line["speaker"]), set()).add(line["split"])
    shared = sorted(f"{lang}/{group}: {', '.join(sorted(s))}" for (lang, group), s in seen.items() if len(s) > 1)
    return dg.AssetCheckResult(passed=not shared, metadata={"shared": dg.MetadataValue.json(shared[:50]), "count": len(shared)})


@dg.asset_check(asset=splits, description="Every language that has data appears in train, validation and test")
def every_language_in_every_split(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    ws = workspace.get()
    present = {split: {l for l in LANGUAGES if (p := ws.split_manifest(l, split)).is_file() and read_jsonl(p)} for split in SPLITS}
    languages = set().union(*present.values())
    missing = {split: sorted(languages - langs) for split, langs in present.items() if languages - langs}
    return dg.AssetCheckResult(
        passed=not missing, severity=dg.AssetCheckSeverity.WARN,
        metadata={"missing": dg.MetadataValue.json(missing), "languages": sorted(languages),
                  "not_materialized": sorted(set(LANGUAGES) - languages)},
    )


@dg.asset_check(asset=splits, blocking=True, description="Every manifest line is valid (schema in data/manifests.py)")
def manifest_lines_valid(workspace: WorkspaceResource) -> dg.AssetCheckResult:
    ws = workspace.get()
    problems = [p for l in LANGUAGES for s in SPLITS if (path := ws.split_manifest(l, s)).is_file()
                for p in validate_manifest_lines(path)[1]]
    return dg.AssetCheckResult(passed=not problems, metadata={"problems": dg.MetadataValue.json(problems[:50]), "count": len(problems)})


def _gate_check_result(gate, run: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=gate.passed, metadata={"run": run, "details": dg.MetadataValue.json(gate.details),
                                                             "failures": dg.MetadataValue.json(gate.failures)})


def _evaluated(ws: Workspace) -> tuple[str, dict]:
    run = last_evaluated_run(ws)
    evals = evaluations(ws, run)
    if not evals:
        raise dg.Failure(description=f"no evaluation documents for run {run or '(none)'}")
    return run, evals


@dg.asset_check(asset=eval_report, blocking=True, description="Fine-tuned WER under the ceiling in every evaluated language")
def wer_below_ceiling(config: GateConfig, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    run, evals = _evaluated(workspace.get())
    return _gate_check_result(wer_ceiling_gate(evals, config.wer_ceiling, config.wer_ceiling_per_language), run)


@dg.asset_check(asset=eval_report, blocking=True, description="No WER or CER regression against the production model beyond the margins")
def no_regression_vs_production(config: GateConfig, workspace: WorkspaceResource) -> dg.AssetCheckResult:
    run, evals = _evaluated(workspace.get())
    return _gate_check_result(regression_gate(evals, config.regression_margin, config.cer_margin()), run)


ALL_CHECKS = [unusable_fraction_below_threshold, no_transcriptless_audio_in_training, no_duplicate_across_splits,
              normalized_fraction_meets_target, no_speaker_in_two_splits, every_language_in_every_split, manifest_lines_valid]
EVAL_CHECKS = [wer_below_ceiling, no_regression_vs_production]
