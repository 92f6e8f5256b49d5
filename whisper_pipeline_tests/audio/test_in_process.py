"""Lossless files decoded in process give what ffmpeg gives; everything else is left to ffmpeg."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
import soundfile as sf

from whisper_pipeline.audio.ffmpeg import AudioError, decode, decode_cli
from whisper_pipeline.audio.in_process import decode_lossless

RATE = 16000


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    """Two seconds of a chord at 44.1 kHz stereo, the channels different."""
    d = tmp_path_factory.mktemp("in_process")
    t = np.arange(int(2 * 44100)) / 44100
    left, right = 0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t + 0.5)
    return d, np.stack([left, right], axis=1).astype(np.float32)


def test_a_16k_mono_wav_is_sample_exact_with_ffmpeg(tmp_path):
    audio = (0.2 * np.sin(np.arange(RATE * 3) * 2 * np.pi * 440 / RATE)).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, audio, RATE, subtype="PCM_16")
    ours = decode_lossless(path)
    assert ours is not None and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, decode_cli(path))


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_stereo_44k_matches_ffmpeg_downmix_and_resampling(tone, fmt):
    d, stereo = tone
    path = d / f"tone.{fmt}"
    sf.write(path, stereo, 44100)
    ours, theirs = decode_lossless(path), decode_cli(path)
    assert ours is not None and abs(ours.size - theirs.size) <= 1
    n = min(ours.size, theirs.size)
    middle = slice(200, n - 200)  # the resamplers' edges differ by a few samples
    assert np.abs(ours[middle] - theirs[middle]).max() < 0.01
    assert np.corrcoef(ours[middle], theirs[middle])[0, 1] > 0.9999


def test_compressed_cut_off_and_garbage_files_are_left_to_ffmpeg(tone):
    d, stereo = tone
    wav = d / "whole.wav"
    sf.write(wav, stereo, 44100, subtype="PCM_16")
    mp3 = d / "tone.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(mp3)], check=True)
    cut = d / "cut.wav"
    cut.write_bytes(wav.read_bytes()[: wav.stat().st_size // 2])
    junk = d / "junk.wav"
    junk.write_bytes(b"RIFF not really a wave file" * 10)
    assert decode_lossless(mp3) is None
    assert decode_lossless(cut) is None
    assert decode_lossless(junk) is None


def test_reads_at_most_max_seconds_and_leaves_a_file_object_where_it_was(tone):
    d, stereo = tone
    buffer = io.BytesIO()
    sf.write(buffer, stereo, 44100, format="FLAC")
    buffer.seek(0)
    audio = decode_lossless(buffer, max_seconds=0.5)
    assert audio is not None and abs(audio.size - RATE // 2) <= 1
    assert buffer.tell() == 0 and not buffer.closed
    junk = io.BytesIO(b"\x00" * 1000)
    assert decode_lossless(junk) is None and junk.tell() == 0


@pytest.fixture(scope="module")
def encoded(tone, tmp_path_factory):
    """The stereo chord as each format intake meets: MP3, Opus, Ogg Vorbis, M4A/AAC (index at the end), FLAC,
    WAV, plus 16 kHz mono WAV; and broken copies."""
    d, stereo = tone
    wav = d / "chord.wav"
    sf.write(wav, stereo, 44100, subtype="PCM_16")
    out = {"wav": wav}
    for ext, args in {
        "mp3": ["-b:a", "64k"],
        "opus": ["-c:a", "libopus", "-b:a", "32k"],
        "ogg": ["-c:a", "libvorbis"],
        "m4a": ["-c:a", "aac", "-b:a", "96k"],
        "flac": [],
        "mono.wav": ["-ac", "1", "-ar", "16000"],
        "s32.flac": ["-sample_fmt", "s32"],  # 24-bit FLAC, decoded as s32
        "u8.wav": ["-c:a", "pcm_u8"],
        "f64.wav": ["-c:a", "pcm_f64le"],
        "6ch.wav": ["-ac", "6"],  # more than two channels: libswresample's downmix
    }.items():
        target = d / f"chord.{ext}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), *args, str(target)], check=True)
        out[ext] = target
    for ext in ("flac", "m4a", "mp3"):
        data = out[ext].read_bytes()
        (d / f"cut.{ext}").write_bytes(data[: len(data) // 3])
        out[f"cut_{ext}"] = d / f"cut.{ext}"
    return out


@pytest.mark.parametrize(
    "key", ["mp3", "opus", "ogg", "m4a", "flac", "wav", "mono.wav", "s32.flac", "u8.wav", "f64.wav", "6ch.wav"]
)
@pytest.mark.parametrize("rate", [16000, None])
def test_pyav_gives_the_ffmpeg_cli_samples_and_facts(encoded, key, rate):
    """Same decoders, same downmix, same resampler as ``ffmpeg -ac 1 -ar``: equal within float rounding."""
    from whisper_pipeline.audio.ffmpeg import probe
    from whisper_pipeline.audio.in_process import AvDecoder, decode_in_process

    path = encoded[key]
    facts = probe(path)
    cli = decode_cli(path, rate or facts.sample_rate)
    ours = decode_in_process(path, rate)
    assert ours is not None and ours.dtype == np.float32 and ours.size == cli.size
    assert np.abs(ours - cli).max() <= 1e-6
    with AvDecoder(path) as decoder:
        mine = decoder.facts
    assert (mine.codec, mine.sample_rate, mine.channels) == (facts.codec, facts.sample_rate, facts.channels)
    assert mine.declared_duration == pytest.approx(facts.declared_duration, abs=0.05)


@pytest.mark.parametrize("key", ["m4a", "mp3", "flac"])
def test_the_bytes_pyav_reads_hash_to_the_files_sha256(encoded, key):
    import hashlib

    from whisper_pipeline.audio.in_process import AvDecoder, HashingReader

    path = encoded[key]
    with open(path, "rb") as raw:
        reader = HashingReader(raw)
        with AvDecoder(reader) as decoder:
            blocks = list(decoder.chunks(min_samples=4000))
        digest = reader.hexdigest()
    assert len(blocks) > 3, "decoded a block at a time"
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_what_pyav_cannot_read_cleanly_is_left_to_the_cli(encoded, tmp_path):
    from whisper_pipeline.audio.in_process import decode_in_process

    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all")
    for path in (encoded["cut_flac"], encoded["cut_m4a"], encoded["cut_mp3"], text):
        assert decode_in_process(path) is None, path


@pytest.mark.parametrize("default", [None, 0, 1])
def test_a_file_with_two_audio_streams_is_read_as_the_ffmpeg_cli_reads_it(tmp_path, default):
    """ffmpeg decodes the default-disposition stream, else the one with most channels; the in-process decoder
    and the probe pick the same one (a mono 440 Hz and a stereo 880 Hz stream here)."""
    from whisper_pipeline.audio.ffmpeg import probe
    from whisper_pipeline.audio.in_process import decode_in_process

    path = tmp_path / f"two-{default}.mka"
    flags = [f"-disposition:a:{i}" for i in (0, 1)]
    dispositions = ["default" if default == i else "0" for i in (0, 1)]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-f", "lavfi", "-i",
         "sine=frequency=880:duration=2,pan=stereo|c0=c0|c1=c0", "-map", "0:a", "-map", "1:a", "-c:a", "flac",
         flags[0], dispositions[0], flags[1], dispositions[1], str(path)],
        check=True,
    )  # fmt: skip
    expected = 0 if default == 0 else 1
    assert probe(path).channels == (1, 2)[expected]
    cli, ours = decode(path), decode_in_process(path)
    spectrum = np.abs(np.fft.rfft(cli))
    assert abs(np.argmax(spectrum) * 16000 / cli.size - (440, 880)[expected]) < 5, "the stream the CLI picked"
    assert ours is not None and ours.size == cli.size and np.abs(ours - cli).max() <= 1e-6


@pytest.mark.parametrize("key", ["mp3", "opus", "m4a", "flac", "cut_mp3"])
def test_decode_reads_in_process_and_falls_back_to_the_cli(encoded, key, monkeypatch, tmp_path):
    """``decode`` (review, long-recording evaluation, alignment's fallback) starts no ffmpeg process for a file
    PyAV reads cleanly, gives the CLI's samples, and leaves the rest (a cut-off file) to the CLI as before."""
    import whisper_pipeline.audio.ffmpeg as ffmpeg

    cli = decode_cli(encoded[key])
    started = []
    real_run = subprocess.run
    monkeypatch.setattr(ffmpeg.subprocess, "run", lambda *a, **k: started.append(a) or real_run(*a, **k))
    ours = decode(encoded[key])
    assert ours.size == cli.size and np.abs(ours - cli).max() <= 1e-6
    assert bool(started) == key.startswith("cut_"), started
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all")
    with pytest.raises(AudioError, match="notes.mp3"):
        decode(text)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_processed_audio_is_decoded_natively_without_pyav_or_a_process(subtype, monkeypatch, tmp_path):
    """16 kHz mono lossless (what preprocessing writes): libsndfile alone, the CLI's samples exactly; a file at
    another rate still goes to PyAV. The lent GPU machine has neither PyAV nor ffmpeg, and this is all it reads."""
    import whisper_pipeline.audio.ffmpeg as ffmpeg
    import whisper_pipeline.audio.in_process as in_process

    audio = (0.2 * np.sin(np.arange(RATE * 2) * 2 * np.pi * 440 / RATE)).astype(np.float32)
    native, other = tmp_path / "processed.wav", tmp_path / "22k.wav"
    sf.write(native, audio, RATE, subtype=subtype)
    sf.write(other, audio, 22050, subtype=subtype)
    expected = decode_cli(native)
    opened = []
    monkeypatch.setattr(in_process, "decode_in_process", lambda path, rate: opened.append(path))
    monkeypatch.setattr(ffmpeg.subprocess, "run", lambda *a, **k: pytest.fail(f"ffmpeg started: {a}"))
    np.testing.assert_array_equal(decode(native), expected)
    assert opened == []
    with pytest.raises(pytest.fail.Exception, match="ffmpeg started"):
        decode(other)  # PyAV (stubbed here to decline) and then the CLI
    assert opened == [other]


def test_a_cut_off_flac_and_coded_wav_subtypes_are_left_to_ffmpeg(tmp_path):
    """libsndfile reads a cut-off FLAC short without an error, and µ-law/ADPCM WAVs are codecs: both go to
    ffmpeg, and ``strict`` decoding reads nothing natively (the CLI reports what is wrong)."""
    audio = (0.2 * np.sin(np.arange(RATE * 4) * 2 * np.pi * 440 / RATE)).astype(np.float32)
    whole = tmp_path / "whole.flac"
    sf.write(whole, audio, RATE, subtype="PCM_16")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert decode_lossless(whole) is not None and decode_lossless(cut) is None
    with pytest.raises(AudioError, match="cut.flac"):
        decode(cut, strict=True)
    for subtype in ("ULAW", "IMA_ADPCM"):
        coded = tmp_path / f"{subtype}.wav"
        sf.write(coded, audio, RATE, subtype=subtype)
        assert decode_lossless(coded) is None, subtype
        assert decode(coded).size == pytest.approx(audio.size, abs=RATE // 10), subtype
