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


def todays_processing(path, margin_s: float = 0.25) -> tuple[np.ndarray, float, float]:
    """What preprocessing made before decoding in process: ffprobe + ffmpeg at the file's rate, soxr VHQ,
    silero's TorchScript VAD over the whole signal; returns (kept samples, trim start, trim end)."""
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    from whisper_pipeline.audio.stream16k import load_16k_ffmpeg

    audio = load_16k_ffmpeg(path)
    stamps = get_speech_timestamps(torch.from_numpy(audio), load_silero_vad(), sampling_rate=16000)
    total = round(audio.size / 16000, 3)
    start = max(0.0, stamps[0]["start"] / 16000 - margin_s)
    end = min(total, stamps[-1]["end"] / 16000 + margin_s)
    return audio[round(start * 16000) : round(end * 16000)], round(start, 3), round(total - end, 3)


@pytest.fixture(scope="module")
def formats(tmp_path_factory, padded):
    """The padded sentence as MP3, Opus, M4A (44.1/48 kHz stereo), and a cut-off FLAC PyAV stops on."""
    _, flac = padded
    d = tmp_path_factory.mktemp("formats")
    out = {"flac": flac}
    for ext, args in {
        "mp3": ["-b:a", "96k"],
        "opus": ["-c:a", "libopus", "-b:a", "48k"],
        "m4a": ["-c:a", "aac", "-b:a", "96k"],
    }.items():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(flac), *args, str(d / f"s.{ext}")], check=True)
        out[ext] = d / f"s.{ext}"
    data = flac.read_bytes()
    (d / "cut.flac").write_bytes(data[: len(data) * 2 // 3])
    out["cut_flac"] = d / "cut.flac"
    return out


@pytest.mark.parametrize("key", ["flac", "mp3", "opus", "m4a", "cut_flac"])
def test_output_is_what_the_ffmpeg_cli_and_full_vad_pass_made(tmp_path, formats, key):
    """Decoded once in process, VAD at the edges: the same samples (one 16-bit step) and trims (10 ms) as before;
    the cut-off FLAC goes through the ffmpeg CLI after PyAV has already decoded part of it."""
    from whisper_pipeline.audio.in_process import decode_in_process

    src = formats[key]
    assert (decode_in_process(src) is None) == (key == "cut_flac")
    expected, trim_start, trim_end = todays_processing(src)
    row = ManifestLine(key, str(src), "Sutra.", 0.0, "hr", "s1", "train", sha256=sha256_file(src))
    lines, converted, errors = preprocess_rows([row], lambda r: tmp_path / f"{r.id}.wav", {}, workers=1)
    assert converted == 1 and errors == []
    ours, rate = sf.read(lines[0].audio, dtype="float32")
    assert rate == 16000
    assert lines[0].trim == pytest.approx([trim_start, trim_end], abs=0.01)
    assert abs(ours.size - expected.size) <= 160
    n = min(ours.size, expected.size)
    assert np.abs(ours[:n] - np.clip(expected[:n], -1, 1)).max() <= 1.5 / 32768


def test_a_long_file_is_streamed_through_a_spill_file(tmp_path, padded, monkeypatch):
    """Past MEMORY_S the decoded samples go to a temporary file: same output as all in memory, nothing left."""
    import whisper_pipeline.audio.stream16k as stream16k
    from whisper_pipeline.audio.preprocess import process_one

    speech, _ = padded
    long = tmp_path / "long.flac"
    subprocess.run(["sox", str(speech), str(speech), str(speech), str(long), "pad", "20", "25"], check=True)
    options = PreprocessOptions(loudness_lufs=-20.0)  # the loudness measure, too, reads block by block
    in_memory = process_one(str(long), str(tmp_path / "a" / "mem.wav"), options)
    monkeypatch.setattr(stream16k, "MEMORY_S", 2.0)
    spilled = process_one(str(long), str(tmp_path / "b" / "spill.wav"), options)
    assert in_memory == spilled and spilled.trim_start > 19 and spilled.trim_end > 24 and spilled.loudness_lufs
    a, _ = sf.read(tmp_path / "a" / "mem.wav")
    b, _ = sf.read(tmp_path / "b" / "spill.wav")
    np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["spill.wav"]


def test_sample_store_reads_back_across_memory_and_disk(tmp_path):
    from whisper_pipeline.audio.stream16k import SampleStore

    signal = np.random.default_rng(0).standard_normal(50_000).astype(np.float32)
    with SampleStore(tmp_path, memory_samples=12_000) as store:
        for block in np.array_split(signal, 7):
            store.append(block)
        np.testing.assert_array_equal(store.read(0, store.size), signal)
        np.testing.assert_array_equal(store.read(11_000, 13_500), signal[11_000:13_500])
        np.testing.assert_array_equal(np.concatenate(list(store.blocks(100, 49_000, 3000))), signal[100:49_000])
    assert list(tmp_path.iterdir()) == []
