import json
from dataclasses import fields, replace

import numpy as np
import pytest

from whisper_pipeline.data.manifests import (
    REQUIRED_LINE_FIELDS,
    ManifestError,
    ManifestLine,
    manifest_json_schema,
    manifest_to_dataset,
    read_lines,
    read_manifest,
    validate_manifest_lines,
    write_lines,
)
from whisper_pipeline.io import write_jsonl
from whisper_pipeline_tests.conftest import espeak_wav


def line(**over) -> dict:
    base = {
        "id": "hr-ana-u1",
        "audio": "/x.wav",
        "transcript": "Dobar dan.",
        "duration": 1.5,
        "language": "hr",
        "speaker": "ana",
        "split": "train",
        "source": "upload",
        "sha256": "ab",
    }
    return {**base, **over}


def test_bad_lines_are_reported_with_their_line_numbers(tmp_path):
    path = tmp_path / "train.jsonl"
    lines = [
        json.dumps(line()),
        "",
        "{not json",
        json.dumps(line(language="de")),
        json.dumps(line(duration=-1, transcript="")),
        json.dumps(["a list"]),
        json.dumps({k: v for k, v in line().items() if k != "speaker"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    good, problems = validate_manifest_lines(path)
    assert len(good) == 1 and good[0]["sha256"] == "ab", "extra keys are kept"
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in (3, 4, 5, 6, 7)]
    assert "invalid JSON" in problems[0] and "language" in problems[1]
    assert "duration" in problems[2] and "transcript" in problems[2] and "speaker" in problems[4]
    with pytest.raises(ManifestError, match="5 invalid line"):
        read_manifest(path)
    assert {"id", "audio", "transcript", "duration", "language", "speaker", "split"} <= set(
        manifest_json_schema()["required"]
    )


def test_manifest_becomes_a_datasets_dataset_with_an_audio_column(tmp_path):
    from datasets import Audio

    wavs = [espeak_wav(text, "sr", tmp_path / f"{i}.wav") for i, text in enumerate(["Dobar dan.", "Laku noć."])]
    path = tmp_path / "test.jsonl"
    path.write_text(
        "".join(
            json.dumps(line(id=f"u{i}", audio=str(w), language="sr", split="test")) + "\n" for i, w in enumerate(wavs)
        )
    )
    ds = manifest_to_dataset(path)
    assert isinstance(ds.features["audio"], Audio) and ds.num_rows == 2
    first = ds[0]["audio"]
    assert first["sampling_rate"] == 16000 and isinstance(first["array"], np.ndarray) and first["array"].size > 8000
    assert ds[1]["transcript"] == "Dobar dan." and ds[1]["language"] == "sr"
    raw = manifest_to_dataset(path, decode=False)
    assert raw[0]["audio"]["path"] == str(wavs[0])


# --- the typed line and its file form ------------------------------------------------------------------------

SPLIT_LINE = line(group="speaker:ana")
PROCESSED_LINE = {
    **SPLIT_LINE,
    "audio": "/ws/processed/audio/hr/hr-ana-u1.wav",
    "source_audio": "/x.wav",
    "duration": 1.25,
    "manifest_duration": 1.5,
    "trim": [0.1, 0.15],
    "loudness_lufs": None,
    "preprocess_flags": [],
    "preprocess_key": "9aa2ec60b1ae0f8c",
}
SEGMENT_LINE = {
    **PROCESSED_LINE,
    "id": "hr-ana-u1-seg001",
    "audio": "/ws/processed/segments/hr/hr-ana-u1-seg001.wav",
    "transcript": "dan.",
    "duration": 0.5,
    "parent": "hr-ana-u1",
    "offset": 0.8,
}
USER_LINE = {**SPLIT_LINE, "source": "Generic:video1", "notes": {"checked_by": "ivo"}, "group": None, "extra": 1}


@pytest.mark.parametrize(
    "data",
    [SPLIT_LINE, PROCESSED_LINE, {**PROCESSED_LINE, "loudness_lufs": -23.4}, SEGMENT_LINE, USER_LINE],
    ids=["split", "processed", "normalized", "segment", "unknown-keys"],
)
def test_a_line_round_trips_to_the_same_json(data, tmp_path):
    typed = ManifestLine.from_dict(data)
    assert typed.to_dict() == data
    write_lines(tmp_path / "a.jsonl", [typed])
    write_jsonl(tmp_path / "b.jsonl", [data])
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes(), "byte-identical files"
    assert read_lines(tmp_path / "a.jsonl") == [typed]


def test_typed_fields_and_what_is_kept_aside():
    processed = ManifestLine.from_dict(PROCESSED_LINE)
    assert processed.trim == [0.1, 0.15] and processed.manifest_duration == 1.5 and processed.extra == {}
    assert processed.loudness_lufs is None and "loudness_lufs" in processed.to_dict(), "null: not normalized"
    split = ManifestLine.from_dict(SPLIT_LINE)
    assert "loudness_lufs" not in split.to_dict() and "parent" not in split.to_dict(), "no new null keys"
    segment = ManifestLine.from_dict(SEGMENT_LINE)
    assert (segment.parent, segment.offset, segment.group) == ("hr-ana-u1", 0.8, "speaker:ana")
    user = ManifestLine.from_dict(USER_LINE)
    assert user.extra == {"notes": {"checked_by": "ivo"}, "group": None, "extra": 1} and user.group is None
    assert replace(user, group="speaker:ana").to_dict()["group"] == "speaker:ana", "a field set since wins"
    without_source = {k: v for k, v in SPLIT_LINE.items() if k != "source"}
    assert ManifestLine.from_dict(without_source).source == "upload"
    with pytest.raises(KeyError, match="'hr-ana-u1' has no speaker"):
        ManifestLine.from_dict({k: v for k, v in SPLIT_LINE.items() if k != "speaker"})


def test_the_dataclass_and_the_validation_schema_agree():
    schema = manifest_json_schema()
    assert set(schema["required"]) == set(REQUIRED_LINE_FIELDS)
    typed = {f.name for f in fields(ManifestLine)} - {"extra"}
    assert set(schema["properties"]) <= typed
    assert schema["properties"]["source"]["default"] == ManifestLine.__dataclass_fields__["source"].default


def test_reading_typed_lines_names_the_file_and_every_incomplete_line(tmp_path):
    path = tmp_path / "train.jsonl"
    incomplete = {k: v for k, v in line(id="hr-ana-u2").items() if k != "transcript"}
    write_jsonl(path, [line(), incomplete, line(id="hr-ana-u3")])
    with pytest.raises(ManifestError) as err:
        read_lines(path)
    assert str(path) in str(err.value) and "entry 2" in str(err.value) and "transcript" in str(err.value)
    assert [l.id for l in read_lines(path, skip_invalid=True)] == ["hr-ana-u1", "hr-ana-u3"]
