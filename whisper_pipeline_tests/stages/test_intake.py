"""The ``raw_audio`` stage without Dagster: the tiny espeak-ng corpus inventoried at the layout's paths."""

import csv
import json

import pandas as pd
import pytest

from whisper_pipeline.data.inventory import INVENTORY_COLUMNS, IntakeRules
from whisper_pipeline.harvest.sources import HarvestOptions, SourcesError
from whisper_pipeline.harvest.ytdlp import HarvestedItem, append_harvest_log
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.stages import Markdown
from whisper_pipeline.stages.intake import intake
from whisper_pipeline_tests.stages.data_chain import NO_HARVEST, ListLog


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_intake_writes_inventory_tables_and_cache_at_the_layout_paths(workspace):
    log = ListLog()
    meta = intake(workspace, "hr", IntakeRules(), NO_HARVEST, log=log).metadata
    rows = read_jsonl(workspace.inventory("hr"))
    assert len(rows) == meta["files"] == 13  # 3 speakers × 2, a copy, a re-encoded copy, 5 bad files
    assert meta["usable"] == sum(r["status"] == "ok" for r in rows) == 6
    assert meta["unusable"] == 5 and meta["duplicates"] == 2 and meta["without_transcript"] == 1
    assert meta["speakers"] == 3 and meta["usable_hours"] > 0
    assert meta["decoded_this_run"] == 11 and meta["hashed_this_run"] == 12  # 12 audio files, 2 byte-identical
    assert meta["harvested"] == {}
    assert meta["transcript_encodings"] == {"cp1250": 2, "utf-8": 9}
    assert meta["inventory"] == workspace.dataset_inventory_csv.combined
    assert meta["metadata_problems"] == "_none_"
    assert isinstance(meta["not_usable"], Markdown) and "not_audio.wav" in meta["not_usable"]
    assert meta["flagged"] == "_none_"

    # every file that is not ok is named in a warning, with its reason
    bad = [r for r in rows if r["status"] != "ok"]
    assert len(bad) == 7
    assert [w for w in log.warnings] == [f"{r['filename']}: {r['reason']}" for r in bad]

    # the table: this language's part, and the combined file rebuilt from the parts
    part = csv_rows(workspace.dataset_inventory_csv.part("hr"))
    assert [r["file_id"] for r in part] == [r["file_id"] for r in rows]
    assert list(part[0]) == INVENTORY_COLUMNS
    assert csv_rows(workspace.dataset_inventory_csv.combined) == part
    parquet = pd.read_parquet(workspace.dataset_inventory_parquet.part("hr"))
    assert list(parquet["file_id"]) == [r["file_id"] for r in rows]
    assert workspace.intake_cache("hr").is_file()

    # a second language: its own part, the combined files hold both (in language order)
    intake(workspace, "bs", IntakeRules(), NO_HARVEST, log=ListLog())
    both = csv_rows(workspace.dataset_inventory_csv.part("bs")) + part
    assert csv_rows(workspace.dataset_inventory_csv.combined) == both
    combined = pd.read_parquet(workspace.dataset_inventory_parquet.combined)
    assert list(combined["file_id"]) == [r["file_id"] for r in both]


def test_intake_again_decodes_nothing_and_writes_the_same_inventory(workspace):
    intake(workspace, "sr", IntakeRules(), NO_HARVEST, log=ListLog())
    first = workspace.inventory("sr").read_bytes()
    meta = intake(workspace, "sr", IntakeRules(), NO_HARVEST, log=ListLog()).metadata
    assert meta["decoded_this_run"] == 0 and meta["hashed_this_run"] == 0
    assert workspace.inventory("sr").read_bytes() == first


def test_intake_rules_are_applied(workspace):
    """A band no transcript fits: every transcribed file is too long for its audio."""
    meta = intake(workspace, "sr", IntakeRules(min_chars_per_second=0.5, max_chars_per_second=1.0), NO_HARVEST).metadata
    rows = read_jsonl(workspace.inventory("sr"))
    assert meta["usable"] == 0 and meta["unusable"] == len(rows) == 6
    assert {r["reason_code"] for r in rows} == {"transcript_too_long"}


def test_harvest_off_never_reads_the_sources_file_and_on_reads_it(workspace, tmp_path):
    broken = tmp_path / "sources.yaml"
    broken.write_text("sources: [unclosed\n")
    intake(workspace, "sr", IntakeRules(), HarvestOptions(harvest=False, sources_file=str(broken)), log=ListLog())
    with pytest.raises(SourcesError, match="not valid YAML"):
        intake(workspace, "sr", IntakeRules(), HarvestOptions(harvest=True, sources_file=str(broken)), log=ListLog())

    # sources of other languages only: nothing harvested, no harvest log
    other = tmp_path / "other.yaml"
    other.write_text("sources:\n  - url: http://127.0.0.1:9/x.mp3\n    language: hr\n")
    meta = intake(workspace, "sr", IntakeRules(), HarvestOptions(sources_file=str(other)), log=ListLog()).metadata
    assert meta["harvested"] == {} and not workspace.harvest_log("sr").exists()


def test_harvest_log_appends_one_line_per_item_with_the_run_id(workspace):
    items = [
        HarvestedItem("http://a/1", "downloaded", audio="x.mp3"),
        HarvestedItem("http://a/2", "failed", reason="404"),
    ]
    append_harvest_log(workspace.harvest_log("hr"), items, "run-1")
    append_harvest_log(workspace.harvest_log("hr"), items[:1], "run-2")
    lines = [json.loads(l) for l in workspace.harvest_log("hr").read_text().splitlines()]
    assert [(l["run_id"], l["source_url"], l["status"]) for l in lines] == [
        ("run-1", "http://a/1", "downloaded"),
        ("run-1", "http://a/2", "failed"),
        ("run-2", "http://a/1", "downloaded"),
    ]
    assert list(lines[0])[0] == "run_id" and lines[1]["reason"] == "404"
