import os
import shutil

import whisper_pipeline.data.inventory as inventory
from whisper_pipeline.data.discovery import discover
from whisper_pipeline.data.validation import validate_and_dedupe
from whisper_pipeline_tests.conftest import tree_digest


def test_bad_files_and_duplicates_are_reported_and_sources_untouched(tiny_corpus, tmp_path):
    uploads = tmp_path / "uploads"
    shutil.copytree(tiny_corpus, uploads)
    before = tree_digest(uploads)
    items, _ = discover(uploads, "hr")
    rows = inventory.build_inventory(items, uploads)
    by_name = {r["filename"].split("/")[-1]: r for r in rows}
    assert by_name["not_audio.wav"]["audio_status"] == "undecodable"
    assert by_name["empty.flac"]["audio_status"] == "empty"
    truncated = next(r for n, r in by_name.items() if n.startswith("truncated."))
    assert truncated["audio_status"] == "truncated"
    copies = [r for r in rows if r["duplicate"]]
    assert len(copies) == 1 and copies[0]["filename"].split("/")[-1].startswith("copy_of_"), "the older original is kept"

    kept, report = validate_and_dedupe(rows)
    assert report["rejected_by_reason"] == {"duplicate": 1, "empty": 1, "truncated": 1, "undecodable": 1}
    assert len(kept) == 6 and all(r["status"] == "ok" for r in kept)
    assert tree_digest(uploads) == before, "intake must not modify, move or delete source files"


def test_unchanged_files_are_not_decoded_again(tiny_corpus, tmp_path, monkeypatch):
    uploads = tmp_path / "uploads"
    shutil.copytree(tiny_corpus / "sr", uploads / "sr")
    items, _ = discover(uploads, "sr")
    first = inventory.build_inventory(items, uploads)
    calls = []
    real_check = inventory.check_audio
    monkeypatch.setattr(inventory, "check_audio", lambda p: calls.append(p) or real_check(p))
    previous = {r["audio"]: r for r in first}
    os.utime(items[0].audio)  # touched ⇒ re-checked
    second = inventory.build_inventory(items, uploads, previous)
    assert calls == [items[0].audio]
    assert [r["sha256"] for r in second] == [r["sha256"] for r in first]
