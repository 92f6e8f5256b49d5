"""Removal end to end on the tiny corpus: after ``remove --apply`` no file anywhere in the workspace names
the removed recordings, nothing else changed, the model trained on them is marked (and ``/models`` says
so), and running the intake again does not bring them back."""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest

from whisper_pipeline.governance.__main__ import main
from whisper_pipeline.governance.removal import RemovalError, plan_removal
from whisper_pipeline.harvest.sources import HarvestOptions
from whisper_pipeline.io import write_json
from whisper_pipeline.models.registry import needs_retraining
from whisper_pipeline.serving.catalog import ModelCatalog
from whisper_pipeline.serving.file_store import AudioInfo, FileStore
from whisper_pipeline.stages.intake import harvest_sources
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_wav
from whisper_pipeline_tests.governance.conftest import (
    HARVESTED_ID,
    HARVESTED_URL,
    LANG,
    RUN,
    add_harvested_item,
    inventory_rows,
    speaker_of,
)
from whisper_pipeline_tests.stages.data_chain import ListLog, run_chain


def snapshot(ws: Workspace) -> dict[str, str]:
    return {
        str(p.relative_to(ws.root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(ws.root.rglob("*"))
        if p.is_file()
    }


def mentions(ws: Workspace, needles: list[str]) -> dict[str, list[str]]:
    """Every file whose bytes (or, for Parquet, cells) contain one of ``needles``."""
    found = {}
    for p in sorted(ws.root.rglob("*")):
        if not p.is_file() or p == ws.removals:
            continue
        data = p.read_bytes()
        if p.suffix == ".parquet":
            data = pd.read_parquet(p).to_csv().encode()
        hits = [n for n in needles if n.encode() in data]
        if hits:
            found[str(p.relative_to(ws.root))] = hits
    return found


def jsonl_lines(text: str) -> list[str]:
    return [l for l in text.splitlines() if l.strip()]


def test_removing_a_speaker_leaves_no_trace_and_marks_the_model(governed, capsys):
    ws = governed
    speaker = speaker_of(ws)
    removed = [r for r in inventory_rows(ws) if r["speaker"] == speaker]
    ids = [r["file_id"] for r in removed]
    names = [r["filename"] for r in removed]
    assert len(removed) >= 3 and any(r["duplicate"] for r in removed), "the speaker's files and a copy of one"
    before = snapshot(ws)
    contents = {p: (ws.root / p).read_bytes() for p in before}
    assert mentions(ws, [speaker, *ids]), "the data chain left the speaker all over the workspace"

    # the dry run changes nothing and lists what --apply then removes
    assert main(["--workspace", str(ws.root), "remove", speaker, "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert snapshot(ws) == before
    assert planned["affected_runs"] and RUN in planned["affected_runs"]
    kinds = {p.split("/")[0] for p in planned["files"]}
    assert kinds >= {"uploads", "processed", "outputs"}, kinds

    assert main(["--workspace", str(ws.root), "remove", speaker, "--apply", "--reason", "consent withdrawn"]) == 0
    out = capsys.readouterr().out
    assert f"models trained on it (marked as needing retraining): {RUN}" in out
    after = snapshot(ws)

    # the record: what, why, when, which runs
    records = [json.loads(l) for l in ws.removals.read_text().splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["selector"] == speaker and record["reason"] == "consent withdrawn" and record["time"]
    assert record["files"] == planned["files"] and record["rewritten"] == planned["rewritten"]
    assert record["affected_runs"] == planned["affected_runs"] and record["manifest_lines"] > 0
    assert {r["file_id"] for r in record["recordings"]} == set(ids)

    # no file anywhere names the removed recordings, their files or the speaker (removals.jsonl aside)
    assert not mentions(ws, [speaker, *ids, *names]), mentions(ws, [speaker, *ids, *names])

    # every deleted file was listed, and nothing else disappeared or appeared
    gone = set(before) - set(after)
    assert gone == set(planned["files"]), gone ^ set(planned["files"])
    appeared = set(after) - set(before)
    assert appeared == {"manifests/removals.jsonl", "models/registry.json"} | {
        p for p in appeared if p.endswith(".lock")
    }, appeared

    # only the listed files changed, and a JSON-lines manifest only lost lines
    changed = {p for p in set(before) & set(after) if before[p] != after[p]}
    assert changed <= set(planned["rewritten"]), changed - set(planned["rewritten"])
    for p in changed:
        if p.endswith(".jsonl"):
            old, new = jsonl_lines(contents[p].decode()), jsonl_lines((ws.root / p).read_text())
            assert set(new) < set(old) and all(line in old for line in new), p
    for p in ("manifests/hr/inventory.jsonl", "manifests/splits/train.jsonl", "manifests/run1.jsonl"):
        assert p in changed
    assert "manifests/training/hr/train.jsonl" in changed

    # the validation report is recomputed from what is left, not only pruned
    report = json.loads(ws.validation_report.part(LANG).read_text())
    assert (
        report["files"]
        == len(inventory_rows(ws))
        == len(jsonl_lines(contents["manifests/hr/inventory.jsonl"].decode())) - len(ids)
    )

    # the model trained on it is marked, and the service says so
    mark = needs_retraining(ws, RUN)
    assert mark and "consent withdrawn" in mark["reason"] and mark["removal"] == record["time"]
    models = ModelCatalog(ws).describe()["models"]
    assert [m["needs_retraining"] for m in models if m["id"] == RUN] == [
        {"reason": mark["reason"], "removal": record["time"]}
    ]

    # the data stages run again do not bring anything back
    log = ListLog()
    run_chain(ws, LANG, log=log)
    assert not mentions(ws, [speaker, *ids]), "the data stages brought removed data back"


def test_a_reuploaded_or_reharvested_recording_is_refused(governed, tiny_corpus):
    ws = governed
    speaker = speaker_of(ws)
    assert main(["--workspace", str(ws.root), "remove", speaker, "--apply"]) == 0
    assert main(["--workspace", str(ws.root), "remove", HARVESTED_URL, "--apply", "--reason", "licence"]) == 0
    # the user copies the speaker's folder back under another name, and the harvest fetches the video again
    shutil.copytree(tiny_corpus / LANG / speaker, ws.language_uploads(LANG) / "renamed_speaker")
    log = ListLog()
    meta = run_chain(ws, LANG, upto="intake", log=log)["intake"]
    refused = [w for w in log.warnings if "not taken in" in w]
    assert meta["refused_as_removed"] == len(refused) >= 3
    assert all("renamed_speaker" in w and speaker in w for w in refused), refused
    assert not any(r["speaker"] == "renamed_speaker" for r in inventory_rows(ws))
    assert not any(HARVESTED_ID in r["file_id"] for r in inventory_rows(ws))


def test_a_removed_source_is_neither_harvested_nor_taken_in_again(governed, tmp_path):
    ws = governed
    assert main(["--workspace", str(ws.root), "remove", HARVESTED_URL, "--apply", "--reason", "licence"]) == 0
    assert not (ws.language_uploads(LANG) / f"Youtube-{HARVESTED_ID}").exists()
    # the sources file still names it: the harvest skips it (no download is even tried)
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"sources:\n  - url: {HARVESTED_URL}\n    language: {LANG}\n")
    log = ListLog()
    assert harvest_sources(ws, LANG, HarvestOptions(harvest=True, sources_file=str(sources)), "r1", log) == []
    assert [w for w in log.warnings if w.startswith(f"{HARVESTED_URL}: not harvested: removed")]
    # and the same video fetched some other way is refused by its provenance
    add_harvested_item(ws, tmp_path)
    log = ListLog()
    run_chain(ws, LANG, upto="intake", log=log)
    assert any(f"Youtube-{HARVESTED_ID}.wav: not taken in" in w for w in log.warnings), log.warnings
    assert not any(HARVESTED_ID in r["file_id"] for r in inventory_rows(ws))


def test_removing_a_harvested_source_by_url(governed):
    ws = governed
    plan = plan_removal(ws, HARVESTED_URL)
    files = {str(p.relative_to(ws.root)) for p, _ in plan.delete}
    stem = f"uploads/{LANG}/Youtube-{HARVESTED_ID}/Youtube-{HARVESTED_ID}"
    assert {f"{stem}{s}" for s in (".wav", ".txt", ".source.json", ".cues.json", ".hr.vtt")} <= files
    assert set(plan.sources) == {f"Youtube:{HARVESTED_ID}", HARVESTED_URL}
    assert {r.why for r in plan.recordings} == {f"source {HARVESTED_URL}"}


def test_a_selector_that_matches_nothing_is_a_clear_error(governed, capsys):
    before = snapshot(governed)
    with pytest.raises(RemovalError, match="'nobody' matches nothing in .*uploads"):
        plan_removal(governed, "nobody")
    assert main(["--workspace", str(governed.root), "remove", "no/such/*.wav", "--apply"]) == 2
    assert "matches nothing" in capsys.readouterr().err
    assert snapshot(governed) == before


def test_a_path_glob_takes_copies_along_and_an_audiofolder_row_goes_with_its_file(governed):
    ws = governed
    speaker = speaker_of(ws)
    plan = plan_removal(ws, f"{LANG}/{speaker}/utt000.*")
    whys = sorted(r.why for r in plan.recordings)
    assert [r.file_id for r in plan.recordings if r.why.startswith("path")] == [f"{LANG}-{speaker}-utt000"]
    assert len(whys) == 2 and whys[0].startswith("copy of a removed recording"), whys

    # bs is uploaded as an audiofolder: the transcripts are rows of the user's metadata.csv
    metadata = ws.language_uploads("bs") / "metadata.csv"
    rows = metadata.read_text(encoding="utf-8").splitlines()
    bs_speaker = rows[1].split(",")[0].split("/")[0]
    assert main(["--workspace", str(ws.root), "remove", bs_speaker, "--apply"]) == 0
    left = metadata.read_text(encoding="utf-8").splitlines()
    assert len(left) == len(rows) - 2 and not any(bs_speaker in l for l in left), left
    assert not (ws.language_uploads("bs") / bs_speaker).exists()


def test_the_licences_document_is_regenerated_by_a_removal(governed):
    ws = governed
    assert main(["--workspace", str(ws.root), "licenses"]) == 0
    assert HARVESTED_URL in ws.data_licenses.read_text()
    plan = plan_removal(ws, HARVESTED_URL)
    assert str(ws.data_licenses.relative_to(ws.root)) in plan.summary(ws)["rewritten"]
    assert main(["--workspace", str(ws.root), "remove", HARVESTED_URL, "--apply"]) == 0
    assert HARVESTED_URL not in ws.data_licenses.read_text() and "local uploads (hr)" in ws.data_licenses.read_text()


def test_a_run_whose_data_is_unknown_is_assumed_affected_and_one_without_the_data_is_not(governed, tiny_model_dir):
    ws = governed
    shutil.copytree(tiny_model_dir, ws.run_dir("legacy"))
    write_json(ws.run_manifest("legacy"), {"run": "legacy"})  # packaged before runs recorded their data
    shutil.copytree(tiny_model_dir, ws.run_dir("other-data"))
    write_json(ws.run_training_data("other-data"), {"sources": [], "audio_sha256": ["0" * 64]})
    runs = plan_removal(ws, speaker_of(ws)).runs
    assert set(runs) == {RUN, "legacy"} and "assumed" in runs["legacy"] and runs[RUN].startswith("trained on ")


def store_upload(ws: Workspace, data: bytes, filename: str) -> str:
    """What ``POST /files`` then ``/process/whisper`` leave: the stored bytes, the index entry, outputs."""
    record, _ = FileStore(ws).put([data], filename, lambda _: AudioInfo(2.0, "wav", "audio/wav"), ".wav")
    write_json(ws.file_transcription(record.file_id, "base"), {"file_id": record.file_id, "text": "x"})
    ws.file_karaoke(record.file_id).write_text("[00:00.00]x\n", encoding="utf-8")
    return record.file_id


def test_the_service_file_store_loses_the_removed_recordings_and_keeps_the_rest(governed):
    ws = governed
    speaker = speaker_of(ws)
    removed = next(r for r in inventory_rows(ws) if r["speaker"] == speaker)
    kept = next(r for r in inventory_rows(ws) if r["speaker"] != speaker)
    gone_id = store_upload(ws, open(removed["audio"], "rb").read(), "a copy of the removed voice.wav")
    kept_id = store_upload(ws, open(kept["audio"], "rb").read(), "someone else.wav")
    assert gone_id == removed["sha256"]

    plan = plan_removal(ws, speaker)
    listed = {str(p) for p, _ in plan.delete}
    assert str(ws.stored_audio(gone_id).resolve()) in listed
    assert str(ws.file_transcription(gone_id, "base").resolve()) in listed
    assert str(ws.stored_audio(kept_id).resolve()) not in listed
    main(["--workspace", str(ws.root), "remove", speaker, "--apply"])

    store = FileStore(ws)
    assert store.get(gone_id) is None and not ws.stored_audio(gone_id).exists()
    assert not ws.alignment_outputs(gone_id).exists()
    assert store.get(kept_id) is not None and ws.file_karaoke(kept_id).is_file()
    assert [f.file_id for f in store.list()] == [kept_id]
    assert gone_id not in ws.file_store_index.read_text()


def test_a_stored_upload_alone_is_removed_by_its_file_id_and_refused_by_the_intake_later(governed, tmp_path):
    ws = governed
    data = espeak_wav("Ovo nitko nije smio snimiti.", "hr", tmp_path / "private.wav").read_bytes()
    file_id = store_upload(ws, data, "private.wav")
    before = snapshot(ws)

    assert main(["--workspace", str(ws.root), "remove", file_id, "--apply", "--reason", "uploaded by mistake"]) == 0
    gone = set(before) - set(snapshot(ws))
    assert gone == {
        str(p.relative_to(ws.root))
        for p in (ws.stored_audio(file_id), ws.file_transcription(file_id, "base"), ws.file_karaoke(file_id))
    }
    assert FileStore(ws).get(file_id) is None and needs_retraining(ws, RUN) is None

    # the same bytes dropped into the uploads later are refused by the intake
    target = ws.language_uploads(LANG) / "spk_new" / "private.wav"
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    (target.with_suffix(".txt")).write_text("Ovo nitko nije smio snimiti.\n", encoding="utf-8")
    log = ListLog()
    meta = run_chain(ws, LANG, upto="intake", log=log)["intake"]
    assert meta["refused_as_removed"] == 1 and "uploaded by mistake" in " ".join(log.warnings)
    assert not any(r["speaker"] == "spk_new" for r in inventory_rows(ws))
