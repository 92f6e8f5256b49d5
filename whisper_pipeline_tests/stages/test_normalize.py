"""The ``normalized_transcripts`` stage without Dagster: training text per utterance at the layout's paths,
failures reported (file, reason) and warned about, Serbian Cyrillic transliterated unless kept."""

import json

import pytest

from whisper_pipeline.io import read_jsonl
from whisper_pipeline.stages import Markdown
from whisper_pipeline.stages.normalize import normalize, normalize_rows
from whisper_pipeline.text.normalize import TARGET_FRACTION, NormalizationSettings
from whisper_pipeline_tests.conftest import espeak_wav
from whisper_pipeline_tests.stages.data_chain import ListLog, run_chain

BROKEN = "Ovo je jedna [rečenica za test"
CYRILLIC = "Ово је друга реченица за тест"


@pytest.fixture
def sr_deduped(workspace):
    """sr deduped, with two more recordings: one whose transcript cannot be normalized, one in Cyrillic."""
    speaker = sorted(p for p in workspace.language_uploads("sr").iterdir() if p.is_dir())[0]
    espeak_wav("Ovo je jedna rečenica za test", "sr", speaker / "broken.wav")
    (speaker / "broken.txt").write_text(BROKEN + "\n", encoding="utf-8")
    espeak_wav("Ovo je druga rečenica za test", "sr", speaker / "cyrillic.wav")
    (speaker / "cyrillic.txt").write_text(CYRILLIC + "\n", encoding="utf-8")
    run_chain(workspace, "sr", upto="dedupe")
    assert len(read_jsonl(workspace.deduped("sr"))) == 8
    return workspace


def test_normalize_writes_training_text_and_reports_the_failure(sr_deduped):
    ws, log = sr_deduped, ListLog()
    meta = normalize(ws, "sr", NormalizationSettings(), log=log).metadata
    deduped = read_jsonl(ws.deduped("sr"))
    lines = read_jsonl(ws.normalized("sr"))
    broken = next(r for r in deduped if r["transcript"] == BROKEN)
    assert [r["file_id"] for r in lines] == [r["file_id"] for r in deduped if r is not broken]
    for line in lines:
        path = ws.normalized_transcript("sr", line["file_id"])
        assert line["transcript_norm_path"] == str(path)
        assert path.read_text(encoding="utf-8") == line["transcript_norm"] + "\n"
    assert not ws.normalized_transcript("sr", broken["file_id"]).exists()
    cyrillic = next(l for l in lines if l["transcript"] == CYRILLIC)
    assert cyrillic["transcript_norm"] == "Ovo je druga rečenica za test"

    report = json.loads(ws.normalization_report("sr").read_text())
    assert report["files"] == 8 and report["normalized"] == 7 and report["fraction_normalized"] == 0.875
    assert report["target_fraction"] == TARGET_FRACTION and report["keep_cyrillic"] is False
    assert report["changed_by_normalization"] == 1  # the Cyrillic one
    [failure] = report["failed"]
    assert failure["file"] == broken["filename"] and failure["file_id"] == broken["file_id"]
    assert "unbalanced bracket" in failure["reason"] and failure["transcript"] == BROKEN
    assert log.warnings == [f"{broken['filename']}: transcript not normalized: {failure['reason']}"]

    assert meta["normalized"] == 7 and meta["fraction_normalized"] == 0.875
    assert meta["changed_by_normalization"] == 1 and meta["report"] == ws.normalization_report("sr")
    assert isinstance(meta["failed"], Markdown) and broken["filename"] in meta["failed"]
    assert meta["example"].count("\n") == 2 + 5  # header, rule, five examples


def test_keep_cyrillic_trains_on_cyrillic_as_written(sr_deduped):
    meta = normalize(sr_deduped, "sr", NormalizationSettings(keep_cyrillic=True), log=ListLog()).metadata
    cyrillic = next(l for l in read_jsonl(sr_deduped.normalized("sr")) if l["transcript"] == CYRILLIC)
    assert cyrillic["transcript_norm"] == CYRILLIC
    assert meta["changed_by_normalization"] == 0
    assert json.loads(sr_deduped.normalization_report("sr").read_text())["keep_cyrillic"] is True


def test_normalize_rows():
    rows = [
        {"filename": "a.wav", "file_id": "a", "transcript": "[muzika] Dobar dan."},
        {"filename": "b.wav", "file_id": "b", "transcript": "   "},
        {"filename": "c.wav", "file_id": "c", "transcript": "Ђак"},
    ]
    kept, failed = normalize_rows(rows, NormalizationSettings())
    assert [(r["file_id"], r["transcript_norm"]) for r in kept] == [("a", "Dobar dan."), ("c", "Đak")]
    assert kept[0] == {**rows[0], "transcript_norm": "Dobar dan."}
    assert failed == [{"file": "b.wav", "file_id": "b", "reason": "empty transcript", "transcript": "   "}]
    kept, _ = normalize_rows(rows, NormalizationSettings(keep_cyrillic=True))
    assert kept[1]["transcript_norm"] == "Ђак"
