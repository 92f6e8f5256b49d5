import subprocess
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.audio.inspect import sha256_file
from whisper_pipeline.audio.preprocess import PreprocessOptions, duration_mismatches, preprocess_rows, speech_span
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline_tests.conftest import espeak_wav


def row_for(path, rid="a") -> ManifestLine:
    return ManifestLine(
        id=rid,
        audio=str(path),
        transcript="Sutra će biti sunčano i toplo.",
        duration=sf.info(str(path)).duration,
        language="hr",
        speaker="s1",
        split="train",
        sha256=sha256_file(path),
    )


@pytest.fixture(scope="module")
def padded(tmp_path_factory):
    """Speech with 1.5 s of silence before and 2 s after, at 44.1 kHz stereo FLAC, plus the plain clip."""
    d = tmp_path_factory.mktemp("pre")
    speech = espeak_wav("Sutra će biti sunčano i toplo.", "hr", d / "speech.wav")
    out = d / "padded.flac"
    subprocess.run(["sox", str(speech), "-r", "44100", "-c", "2", str(out), "pad", "1.5", "2.0"], check=True)
    return speech, out


def test_converts_to_16k_mono_pcm16_trims_and_reuses_on_rerun(tmp_path, padded):
    speech, src = padded
    before = src.read_bytes()
    row = row_for(src)
    target_for = lambda r: tmp_path / "out" / f"{r.id}.wav"  # noqa: E731
    lines, converted, errors = preprocess_rows([row], target_for, previous={}, workers=1)
    assert converted == 1 and errors == []
    info = sf.info(lines[0].audio)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    spoken = sf.info(str(speech)).duration
    line = lines[0]
    assert line.manifest_duration == pytest.approx(spoken + 3.5, abs=0.05)
    assert spoken <= line.duration <= spoken + 0.8, "leading/trailing silence trimmed, margins kept"
    assert 1.0 <= line.trim[0] <= 1.5 and 1.5 <= line.trim[1] <= 2.0
    assert (line.source_audio, line.id, line.transcript, line.sha256) == (str(src), "a", row.transcript, row.sha256)
    assert line.loudness_lufs is None and "loudness_lufs" in line.to_dict() and line.preprocess_flags == []
    assert src.read_bytes() == before, "the source must never be modified"
    assert not list((tmp_path / "out").glob(".*")), "no temp files left behind"
    assert duration_mismatches(lines) == []

    again, converted, _ = preprocess_rows([row], target_for, previous={"a": line}, workers=1)
    assert converted == 0 and again == lines
    loud = PreprocessOptions(loudness_lufs=-20.0)
    redone, converted, _ = preprocess_rows([row], target_for, previous={"a": line}, options=loud, workers=1)
    assert converted == 1, "other options ⇒ the output is made again"


def test_trimming_never_cuts_the_speech(tmp_path, padded):
    """Every sample of the spoken words (above -50 dBFS) is inside the kept stretch."""
    speech, src = padded
    clean = decode(speech)
    loud = np.flatnonzero(np.abs(clean) > 10 ** (-50 / 20))
    first, last = 1.5 + loud[0] / 16000, 1.5 + loud[-1] / 16000
    lines, _, _ = preprocess_rows([row_for(src)], lambda r: tmp_path / "t.wav", {}, workers=1)
    start, cut_end = lines[0].trim
    assert start <= first and lines[0].manifest_duration - cut_end >= last
    assert speech_span(decode(src)) is not None


def test_no_speech_is_not_trimmed_and_is_flagged(tmp_path):
    noise = tmp_path / "hum.wav"
    t = np.arange(32000) / 16000
    sf.write(noise, 0.1 * np.sin(2 * np.pi * 50 * t), 16000)
    lines, _, _ = preprocess_rows([row_for(noise, "hum")], lambda r: tmp_path / "o" / "hum.wav", {}, workers=1)
    assert lines[0].duration == pytest.approx(2.0, abs=0.01)
    assert any("no speech" in f for f in lines[0].preprocess_flags)


def test_loudness_normalization_reaches_target(tmp_path, padded):
    import pyloudnorm

    _, src = padded
    quiet = tmp_path / "quiet.wav"
    subprocess.run(["sox", str(src), str(quiet), "vol", "0.05"], check=True)
    opts = PreprocessOptions(loudness_lufs=-23.0, format="flac")
    lines, _, _ = preprocess_rows(
        [row_for(quiet, "q")], lambda r: tmp_path / "o" / "q.wav", {}, options=opts, workers=1
    )
    out, rate = sf.read(lines[0].audio)
    assert lines[0].audio.endswith(".flac") and rate == 16000
    assert pyloudnorm.Meter(16000).integrated_loudness(out) == pytest.approx(-23.0, abs=1.0)
    assert lines[0].loudness_lufs < -40


def test_bad_file_is_reported_and_the_rest_go_on(tmp_path, padded):
    _, src = padded
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    rows = [row_for(src, "good"), replace(row_for(src, "bad"), audio=str(bad))]
    lines, converted, errors = preprocess_rows(rows, lambda r: tmp_path / "o" / f"{r.id}.wav", {}, workers=2)
    assert [l.id for l in lines] == ["good"] and converted == 1
    assert len(errors) == 1 and "bad.wav" in errors[0]


def test_duration_mismatch_is_reported(tmp_path, padded):
    _, src = padded
    lines, _, _ = preprocess_rows([row_for(src, "b")], lambda r: tmp_path / "b16.wav", previous={}, workers=1)
    lines[0] = replace(lines[0], duration=lines[0].duration + 1.0)
    assert "b16.wav" in duration_mismatches(lines)[0]
