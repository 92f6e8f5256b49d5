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
