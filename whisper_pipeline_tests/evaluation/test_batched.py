"""Evaluation transcribes its files longest first, in batches: the texts come back in the caller's order and equal,
exactly, what each file gives decoded alone (greedy, tiny random model), a clip over 30 s included (its windows)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.evaluation.transcribe import WhisperTranscriber, by_duration
from whisper_pipeline.serving.backends.guards import NO_GUARDS
from whisper_pipeline_tests.conftest import espeak_16k

SENTENCES = [
    "Dobar dan.",
    "Danas je lijep dan u Zagrebu, a sutra idemo na more.",
    "Kiša pada.",
    "Molim vas, gdje je željeznički kolodvor i koliko košta karta do Splita?",
    "Hvala lijepa.",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[str]:
    """Five sentences of different lengths (in no length order), and 40 s of the longest sentence repeated."""
    d = tmp_path_factory.mktemp("eval-batched")
    paths = [str(espeak_16k(text, "hr+m3", d / f"s{i}.wav")) for i, text in enumerate(SENTENCES)]
    said = decode(paths[3])
    long = np.tile(np.concatenate([said, np.zeros(8000, np.float32)]), 10)[: 40 * 16000]
    sf.write(d / "long.wav", long, 16000, subtype="PCM_16")
    return paths[:2] + [str(d / "long.wav")] + paths[2:]


def test_longest_first(files):
    seconds = [sf.info(p).duration for p in files]
    order = by_duration(files + ["/no/such/file.wav"])
    assert order[0] == 2 and order[-1] == len(files), "the 40 s clip first, an unreadable file last"
    assert [seconds[i] for i in order[:-1]] == sorted(seconds, reverse=True)


def test_batched_texts_equal_one_at_a_time(files, tiny_model_dir, one_torch_thread):
    transcriber = WhisperTranscriber(tiny_model_dir, "cpu")
    alone = [transcriber.transcribe([p], "hr", batch_size=1, guards=NO_GUARDS)[0] for p in files]
    seen = []
    batched = transcriber.transcribe(files, "hr", batch_size=3, guards=NO_GUARDS, progress=lambda d, t: seen.append(d))
    assert batched == alone, "greedy texts do not depend on the batch, and come back in the files' order"
    assert len(set(alone)) > 1, "the clips give different texts, so a mix-up would show"
    assert seen == [3, 6]
