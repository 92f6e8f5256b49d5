"""The ``splits`` stage: seeded, speaker-disjoint train/validation/test manifests per language, the
combined manifests, run1 and run1_small. Stable under growth: a speaker once assigned never changes split."""

from __future__ import annotations

from whisper_pipeline.data.dataset_checks import invalid_split_lines
from whisper_pipeline.data.manifests import combine_jsonl, line_dicts, write_language_part
from whisper_pipeline.data.splits import SPLITS, Assignments, SplitPolicy, SplitSettings, make_splits, small_subset
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.stages import DEFAULT_LOG, Log, StageResult, settings_from
from whisper_pipeline.workspace import LANGUAGES, Workspace


def split(ws: Workspace, lang: str, settings: SplitSettings, *, log: Log = DEFAULT_LOG) -> StageResult:
    """Assign the normalized lines to splits (remembering ``ws.split_assignments``; a new seed reshuffles
    with a warning), write the language's split manifests and run1_small part, and rebuild the combined
    split manifests, run1 and run1_small."""
    rows = read_jsonl(ws.normalized(lang))
    remembered, reshuffled = Assignments.load(ws.split_assignments(lang), settings.seed)
    if reshuffled:
        log.warning(
            f"{lang}: seed changed to {settings.seed}: every speaker is assigned afresh; models trained "
            f"on the old splits must not be evaluated on the new test split"
        )
    by_split, assignments, summary = make_splits(rows, lang, settings_from(settings, SplitPolicy), remembered)
    for name, lines in by_split.items():
        write_language_part(ws.split_manifests(name), lang, line_dicts(lines))
    assignments.save(ws.split_assignments(lang))
    write_language_part(ws.run1_small, lang, line_dicts(small_subset(by_split, settings.small_per_split)))
    combine_jsonl([ws.split_manifest(l, s) for l in LANGUAGES for s in SPLITS], ws.run1)
    for name, why in summary["empty_splits"].items():
        log.warning(f"{lang}: no {name} split: {why}" + ("; evaluation will be skipped" if name == "test" else ""))
    if summary["moved"]:
        log.info(f"{lang}: new speakers moved to fill empty splits: {', '.join(summary['moved'])}")
    if set(summary["groups_by_kind"]) - {"speaker"}:
        log.warning(f"{lang}: some utterances have no speaker; grouped by {summary['groups_by_kind']} instead")
    test_hours = sum(l.duration for l in by_split["test"]) / 3600
    if test_hours < settings.min_test_hours:
        log.warning(
            f"{lang}: only {test_hours:.2f} h of test audio (minimum {settings.min_test_hours} h): add speakers"
        )
    meta: dict = {}
    for name, lines in by_split.items():
        meta[f"{name}_utterances"] = len(lines)
        meta[f"{name}_speakers"] = len({l.speaker for l in lines})
        meta[f"{name}_hours"] = round(sum(l.duration for l in lines) / 3600, 4)
    meta["grouping"] = summary["groups_by_kind"]
    meta["new_groups"] = len(summary["new_groups"])
    meta["moved_to_fill_splits"] = summary["moved"]
    meta["empty_splits"] = summary["empty_splits"]
    meta["groups_kept_in_their_split"] = summary["kept_groups"]
    meta["invalid_manifest_lines"] = len(invalid_split_lines(ws, lang))
    meta["manifests"] = ws.splits_dir
    return StageResult(metadata=meta)
