"""Evaluation's transcriber under the long-form guards, with the tiny random model: a clip longer than
30 s is decoded whole (in VAD-gated windows), not cut off at 30 s; retries at higher temperatures are
sampled, seeded, so the same audio gives the same text; loops are collapsed; the guards can be off."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.evaluation.transcribe import WhisperTranscriber
from whisper_pipeline.serving.backends.guards import NO_GUARDS, Guards
from whisper_pipeline.serving.backends.windows import gated_windows
from whisper_pipeline_tests.conftest import espeak_16k

RATE = 16000


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """A sentence (≈ 3 s), and 75 s: the sentence with pauses, repeated, then 20 s of near-silence."""
    d = tmp_path_factory.mktemp("eval-transcribe")
    said = decode(str(espeak_16k("Dobar dan, danas je lijep dan u Zagrebu.", "hr+f2", d / "a.wav")))
    pause = np.zeros(RATE, np.float32)
    talk = np.tile(np.concatenate([said, pause]), int(np.ceil(55 * RATE / (said.size + RATE))))[: 55 * RATE]
    noise = 1e-3 * np.random.default_rng(0).standard_normal(75 * RATE).astype(np.float32)
    long = np.concatenate([talk, np.zeros(20 * RATE, np.float32)]) + noise
    return said, long.astype(np.float32)


@pytest.fixture(scope="module")
def transcriber(tiny_model_dir) -> WhisperTranscriber:
    return WhisperTranscriber(tiny_model_dir, "cpu")


def test_a_long_clip_is_decoded_whole_not_cut_at_30_s(clips, transcriber):
    said, long = clips
    windows = gated_windows(long, transcriber.guards)
    assert len(windows) >= 2 and windows[-1][1] <= 57 * RATE, "the speech, in windows; the silence left out"
    short_text, long_text = transcriber.transcribe_audio([said, long], "hr", guards=NO_GUARDS)
    first_window = transcriber.transcribe_audio([long[: windows[0][1]]], "hr", guards=NO_GUARDS)[0]
    assert len(long_text.split()) > len(first_window.split()), "more than the first window's text"
    assert short_text


def test_retries_are_sampled_seeded_and_loops_collapsed(clips, transcriber):
    said, _ = clips
    # every decode fails an impossible threshold, so the clip goes through the sampled retry
    retrying = Guards(log_prob_threshold=-0.001, temperatures=(0.0, 0.7), hopeless_log_prob=None)
    first = transcriber.transcribe_audio([said], "hr", guards=retrying)
    assert first == transcriber.transcribe_audio([said], "hr", guards=retrying), "seeded: the same text again"
    greedy = transcriber.transcribe_audio([said], "hr", guards=NO_GUARDS)
    assert first != greedy, "the retry's sampled text is kept (it was the last one tried)"
    words = transcriber.transcribe_audio([said], "hr")[0].split()
    runs = [words[i : i + 4] for i in range(len(words) - 3)]
    assert not any(len(set(r)) == 1 for r in runs), "no word four times in a row once collapsed"
