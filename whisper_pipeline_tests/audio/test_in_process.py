"""Lossless files decoded in process give what ffmpeg gives; everything else is left to ffmpeg."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
import soundfile as sf

from whisper_pipeline.audio.ffmpeg import decode
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
    np.testing.assert_array_equal(ours, decode(path))


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_stereo_44k_matches_ffmpeg_downmix_and_resampling(tone, fmt):
    d, stereo = tone
    path = d / f"tone.{fmt}"
    sf.write(path, stereo, 44100)
    ours, theirs = decode_lossless(path), decode(path)
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
