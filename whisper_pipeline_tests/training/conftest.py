"""Real speech for the training tests: six espeak-ng clips, processed to 16 kHz, in a manifest."""

import pytest

from whisper_pipeline.audio.preprocess import PreprocessOptions, process_one
from whisper_pipeline.io import write_jsonl
from whisper_pipeline_tests.conftest import espeak_wav

TEXTS = [
    "Dobar dan.",
    "Laku noć.",
    "Kiša pada.",
    "Idemo kući.",
    "Hvala lijepa.",
    "Sunce sija.",
]


@pytest.fixture(scope="session")
def manifest(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume-data")
    lines = []
    for i, text in enumerate(TEXTS):
        wav = d / f"{i}.wav"
        process_one(
            str(espeak_wav(text, "hr", d / f"raw{i}.wav")),
            str(wav),
            PreprocessOptions(trim_silence=False),
        )
        lines.append(
            {
                "id": f"u{i}",
                "audio": str(wav),
                "transcript": text,
                "duration": 1.0,
                "language": "hr",
                "speaker": "s",
                "split": "train",
            }
        )
    write_jsonl(d / "train.jsonl", lines)
    return d / "train.jsonl"
