import json

import numpy as np
import pytest

from whisper_pipeline.data.manifests import (
    ManifestError,
    manifest_json_schema,
    manifest_to_dataset,
    read_manifest,
    validate_manifest_lines,
)
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
