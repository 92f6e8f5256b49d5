import json
import shutil

from whisper_pipeline.data.discovery import discover
from whisper_pipeline_tests.conftest import espeak_wav


def test_sidecar_layout(tiny_corpus):
    items, problems = discover(tiny_corpus, "hr")
    assert problems == []
    speakers = {i.speaker for i in items}
    assert "hr_bad_uploads" in speakers and len(speakers) == 4
    good = [i for i in items if i.speaker != "hr_bad_uploads" and not i.file_id.endswith("copy_of_utt000")]
    assert all(i.transcript and i.transcript_source.endswith(".txt") for i in good)
    assert len({i.file_id for i in items}) == len(items)


def test_audiofolder_metadata_csv(tiny_corpus):
    items, problems = discover(tiny_corpus, "bs")
    assert problems == []
    assert len(items) == 6
    assert all(i.transcript and "metadata.csv" in i.transcript_source for i in items)
    assert all(i.speaker.startswith("bs_") for i in items)


def test_root_metadata_jsonl_with_language_column_and_problems(tmp_path):
    uploads = tmp_path / "uploads"
    clip = espeak_wav("Dobro jutro.", "sr", tmp_path / "x.wav")
    (uploads / "misc").mkdir(parents=True)
    shutil.copy(clip, uploads / "misc" / "a.wav")
    lines = [
        {"file_name": "misc/a.wav", "transcription": "Dobro jutro.", "language": "sr", "speaker_id": "ana"},
        {"file_name": "misc/missing.wav", "transcription": "Nema.", "language": "sr"},
        {"file_name": "misc/a.wav", "transcription": "x"},
    ]
    text = "\n".join(json.dumps(l) for l in lines) + "\n{not json\n"
    (uploads / "metadata.jsonl").write_text(text)
    items, problems = discover(uploads, "sr")
    assert [(i.speaker, i.transcript) for i in items] == [("ana", "Dobro jutro.")]
    joined = "\n".join(problems)
    assert "metadata.jsonl:2" in joined and "does not exist" in joined
    assert "metadata.jsonl:3" in joined and "language" in joined
    assert "metadata.jsonl:4" in joined and "invalid JSON" in joined


def test_transcripts_and_metadata_in_every_encoding_reach_the_inventory(tmp_path):
    """Sidecars in each claimed encoding, and a metadata.csv in ISO-8859-2: the text is right and the
    inventory row says how it was read and how sure that is."""
    from whisper_pipeline.data.inventory import IntakeCache, build_inventory

    uploads = tmp_path / "uploads"
    speaker = uploads / "hr" / "ana"
    speaker.mkdir(parents=True)
    text = "Šime žvače šećer, a Đurđa čita."
    encodings = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1250", "iso-8859-2"]
    for n, encoding in enumerate(encodings):
        espeak_wav(text + f" Broj {n}.", "hr", speaker / f"u{n}.wav")
        (speaker / f"u{n}.txt").write_bytes(f"{text} Broj {n}.".encode(encoding))
    meta_dir = uploads / "hr" / "meta"
    meta_dir.mkdir()
    espeak_wav("Žuta šuma.", "hr", meta_dir / "m.wav")
    (meta_dir / "metadata.csv").write_bytes(
        "file_name,transcription,speaker_id\nm.wav,Žuta šuma.,iva\n".encode("iso-8859-2")
    )
    items, problems = discover(uploads, "hr")
    assert problems == []
    rows = {r["filename"]: r for r in build_inventory(items, uploads, IntakeCache(tmp_path / "cache.json"))}
    for n, encoding in enumerate(encodings):
        row = rows[f"hr/ana/u{n}.wav"]
        assert row["transcript"] == f"{text} Broj {n}." and row["transcript_encoding"] == encoding
        assert row["transcript_encoding_confidence"] >= 0.9 and not any("encoding" in f for f in row["flags"])
    meta_row = rows["hr/meta/m.wav"]
    assert (meta_row["transcript"], meta_row["transcript_encoding"], meta_row["speaker"]) == (
        "Žuta šuma.",
        "iso-8859-2",
        "iva",
    )
