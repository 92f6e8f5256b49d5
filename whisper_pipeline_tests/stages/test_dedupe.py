"""The ``deduped`` stage without Dagster: duplicates and unusable files left out, the validation report
per language and combined, and the balance audit over every language deduped so far."""

import json

from whisper_pipeline.data.balance import BalanceRules
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.stages.dedupe import dedupe
from whisper_pipeline_tests.stages.data_chain import ListLog, run_chain


def test_dedupe_keeps_usable_first_copies_and_reports(workspace):
    run_chain(workspace, "hr", upto="intake")
    log = ListLog()
    meta = dedupe(workspace, "hr", BalanceRules(), log=log).metadata
    inventory = read_jsonl(workspace.inventory("hr"))
    kept = read_jsonl(workspace.deduped("hr"))
    assert [r["file_id"] for r in kept] == [r["file_id"] for r in inventory if r["status"] == "ok"]
    assert meta["kept"] == len(kept) == 6 and meta["rejected"] == 7 and meta["duplicates"] == 2
    assert meta["rejected_by_reason"] == {
        "duplicate_exact": 1,
        "duplicate_re_encoded": 1,
        "empty": 1,
        "no_transcript": 1,
        "orphan_transcript": 1,
        "truncated": 1,
        "undecodable": 1,
    }
    assert isinstance(meta["kept_hours"], float) and meta["kept_hours"] > 0

    report = json.loads(workspace.validation_report.part("hr").read_text())
    assert report["kept"] == 6 and {d["kind"] for d in report["duplicates"]} == {"exact", "re-encoded"}
    assert meta["report"] == workspace.validation_report.combined
    assert json.loads(workspace.validation_report.combined.read_text()) == {"hr": report}

    balance = json.loads(workspace.dataset_balance.read_text())
    assert meta["balance"] == workspace.dataset_balance
    assert set(balance["by_language"]) == {"hr"}
    assert (
        meta["balance_by_snr"] == balance["by_snr"]["hr"] and meta["balance_by_dialect"] == balance["by_dialect"]["hr"]
    )

    # this language's recommendations: warnings logged as warnings, the others as info, all in the metadata
    mine = [r for r in balance["recommendations"] if r["language"] == "hr"]
    assert log.warnings == [r["message"] for r in mine if r["severity"] == "warning"]
    assert log.infos == [r["message"] for r in mine if r["severity"] != "warning"]
    assert any("has only 3 speaker(s)" in w for w in log.warnings)
    assert meta["recommendations"].splitlines() == [f"- **{r['severity']}**: {r['message']}" for r in mine]


def test_second_language_joins_the_combined_report_and_the_balance(workspace):
    run_chain(workspace, "hr", upto="dedupe")
    run_chain(workspace, "sr", upto="intake")
    meta = dedupe(workspace, "sr", BalanceRules(), log=ListLog()).metadata
    assert meta["kept"] == 6 and meta["rejected"] == 0 and meta["duplicates"] == 0
    combined = json.loads(workspace.validation_report.combined.read_text())
    assert list(combined) == ["hr", "sr"]
    assert combined["sr"] == json.loads(workspace.validation_report.part("sr").read_text())
    assert set(json.loads(workspace.dataset_balance.read_text())["by_language"]) == {"hr", "sr"}


def test_balance_rules_are_applied(workspace):
    run_chain(workspace, "sr", upto="intake")
    log = ListLog()
    meta = dedupe(workspace, "sr", BalanceRules(min_speakers=3, min_hours=0.001), log=log).metadata
    assert not any("speaker(s)" in w for w in log.warnings)
    assert not any("h of usable audio" in i for i in log.infos)
    assert "speaker(s)" not in meta["recommendations"]
