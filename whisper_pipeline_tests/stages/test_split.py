"""The ``splits`` stage without Dagster: per-language split manifests and the combined files at the layout's
paths, stable re-runs, a warned reshuffle on a new seed; and the data checks' readers on its output."""

import json

import pytest

from whisper_pipeline.data.dataset_checks import (
    invalid_split_lines,
    inventory_rows,
    languages_by_split,
    normalized_fraction,
    split_coverage,
    split_lines,
    unusable_share,
)
from whisper_pipeline.data.splits import SplitSettings
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.stages.split import split
from whisper_pipeline.workspace import LANGUAGES, SPLITS
from whisper_pipeline_tests.conftest import tree_digest
from whisper_pipeline_tests.stages.data_chain import ListLog, run_chain


def lines_of(path):
    return read_jsonl(path) if path.is_file() else []


@pytest.fixture
def normalized(workspace):
    """hr and sr normalized, not yet split."""
    for lang in ("hr", "sr"):
        run_chain(workspace, lang, upto="normalize")
    return workspace


def test_split_writes_each_language_part_and_rebuilds_the_combined_files(normalized):
    ws = normalized
    metas = {lang: split(ws, lang, SplitSettings(), log=ListLog()).metadata for lang in ("hr", "sr")}
    for lang, meta in metas.items():
        parts = {s: read_jsonl(ws.split_manifest(lang, s)) for s in SPLITS}
        assert sorted(l["id"] for p in parts.values() for l in p) == sorted(
            r["file_id"] for r in read_jsonl(ws.normalized(lang))
        )
        for s, lines in parts.items():
            assert {l["split"] for l in lines} <= {s} and {l["language"] for l in lines} <= {lang}
            assert meta[f"{s}_utterances"] == len(lines)
            assert meta[f"{s}_speakers"] == len({l["speaker"] for l in lines})
            assert meta[f"{s}_hours"] == round(sum(l["duration"] for l in lines) / 3600, 4)
        speakers = [{l["speaker"] for l in lines} for lines in parts.values()]
        assert sum(map(len, speakers)) == len(set().union(*speakers)) == 3  # speaker-disjoint
        assert all(parts.values())  # three speakers fill the three splits
        assert meta["grouping"] == {"speaker": 3} and meta["new_groups"] == 3
        assert meta["groups_kept_in_their_split"] == 0 and meta["empty_splits"] == {}
        assert meta["invalid_manifest_lines"] == 0 and meta["manifests"] == ws.splits_dir
        assignments = json.loads(ws.split_assignments(lang).read_text())
        assert assignments["seed"] == 13 and len(assignments["groups"]) == 3

    for s in SPLITS:
        assert read_jsonl(ws.split_manifests(s).combined) == [
            line for lang in LANGUAGES for line in lines_of(ws.split_manifest(lang, s))
        ]
    assert read_jsonl(ws.run1) == [
        line for lang in LANGUAGES for s in SPLITS for line in lines_of(ws.split_manifest(lang, s))
    ]
    assert len(read_jsonl(ws.run1)) == 12
    small = {lang: read_jsonl(ws.run1_small.part(lang)) for lang in ("hr", "sr")}
    assert read_jsonl(ws.run1_small.combined) == small["hr"] + small["sr"]
    assert len(small["hr"]) == 6  # fewer than 8 per split: all of them


def test_same_seed_again_changes_nothing(normalized):
    ws = normalized
    split(ws, "hr", SplitSettings(), log=ListLog())
    before = tree_digest(ws.manifests)
    log = ListLog()
    meta = split(ws, "hr", SplitSettings(), log=log).metadata
    assert tree_digest(ws.manifests) == before
    assert not any("seed changed" in w for w in log.warnings)
    assert meta["new_groups"] == 0 and meta["groups_kept_in_their_split"] == 3 and meta["moved_to_fill_splits"] == []


def test_new_seed_reshuffles_with_a_warning(normalized):
    ws = normalized
    split(ws, "hr", SplitSettings(), log=ListLog())
    log = ListLog()
    meta = split(ws, "hr", SplitSettings(seed=14), log=log).metadata
    assert log.warnings[0] == (
        "hr: seed changed to 14: every speaker is assigned afresh; models trained on the old splits must not be "
        "evaluated on the new test split"
    )
    assert json.loads(ws.split_assignments("hr").read_text())["seed"] == 14
    assert meta["new_groups"] == 3 and meta["groups_kept_in_their_split"] == 0


def test_split_settings_are_applied(normalized):
    ws, log = normalized, ListLog()
    meta = split(ws, "sr", SplitSettings(small_per_split=1, min_test_hours=1.0), log=log).metadata
    assert len(read_jsonl(ws.run1_small.part("sr"))) == 3  # one line per split
    assert "sr: only 0.00 h of test audio (minimum 1.0 h): add speakers" in log.warnings
    assert meta["moved_to_fill_splits"] and log.infos == [
        f"sr: new speakers moved to fill empty splits: {', '.join(meta['moved_to_fill_splits'])}"
    ]
    with pytest.raises(ValueError, match="split ratios"):
        SplitSettings(validation_ratio=0.5, test_ratio=0.5)


def test_data_check_readers(normalized):
    ws = normalized
    assert inventory_rows(ws, "bs") == [] and split_lines(ws) == [] and normalized_fraction(ws, "bs") is None
    assert normalized_fraction(ws, "hr") == 1.0
    assert languages_by_split(ws) == {s: set() for s in SPLITS}
    split(ws, "hr", SplitSettings(), log=ListLog())
    lines = split_lines(ws, ("hr",))
    assert [line.to_dict() for line in lines] == [l for s in SPLITS for l in read_jsonl(ws.split_manifest("hr", s))]
    assert {line.language for line in lines} == {"hr"} and all(line.group and line.sha256 for line in lines)
    assert split_lines(ws) == split_lines(ws, ("hr",))
    assert languages_by_split(ws) == {s: {"hr"} for s in SPLITS}
    assert split_coverage(languages_by_split(ws)) == {
        "missing": {},
        "languages": ["hr"],
        "not_materialized": ["bs", "sr"],
    }
    assert invalid_split_lines(ws, "hr") == []
    path = ws.split_manifest("hr", "test")
    path.write_text(path.read_text() + '{"id": "x"}\n')
    [problem] = invalid_split_lines(ws, "hr")
    assert problem.startswith(f"{path}:3: ")
    assert unusable_share(inventory_rows(ws, "hr")) == (round(5 / 13, 4), 5)


def test_split_coverage_and_unusable_share():
    present = {"train": {"hr", "sr"}, "validation": {"sr"}, "test": set()}
    assert split_coverage(present) == {
        "missing": {"validation": ["hr"], "test": ["hr", "sr"]},
        "languages": ["hr", "sr"],
        "not_materialized": ["bs"],
    }
    assert split_coverage({s: set() for s in SPLITS}) == {
        "missing": {},
        "languages": [],
        "not_materialized": ["bs", "hr", "sr"],
    }
    assert unusable_share([]) == (0.0, 0)
    assert unusable_share([{"status": "ok"}, {"status": "unusable"}, {"status": "duplicate"}]) == (0.3333, 1)
