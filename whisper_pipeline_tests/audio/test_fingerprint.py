"""Re-encoded copies are recognised; different speech, even from the same voice, is not."""

import subprocess

import pytest

from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.audio.fingerprint import bit_error_rate, fingerprint, from_hex, same_recording, to_hex
from whisper_pipeline_tests.conftest import espeak_wav


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("fp")
    a = espeak_wav("Sutra idemo na izlet u planine.", "hr", d / "a.wav")
    b = espeak_wav("Knjižnica je otvorena do osam navečer.", "hr", d / "b.wav")
    out = {"a": a, "b": b}
    for name, args in {
        "ogg48k_stereo": ["-ar", "48000", "-ac", "2", "-c:a", "libvorbis"],
        "mp3_8k": ["-ar", "8000", "-b:a", "24k"],
        "m4a": ["-c:a", "aac", "-b:a", "48k"],
    }.items():
        target = d / f"a_{name}.{'ogg' if 'ogg' in name else 'mp3' if 'mp3' in name else 'm4a'}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(a), *args, str(target)], check=True)
        out[name] = target
    return {k: fingerprint(decode(v)) for k, v in out.items()}


@pytest.mark.parametrize("copy", ["ogg48k_stereo", "mp3_8k", "m4a"])
def test_reencoded_copies_match(clips, copy):
    assert bit_error_rate(clips["a"], clips[copy]) < 0.15
    assert same_recording(clips["a"], clips[copy])


def test_different_sentences_do_not_match(clips):
    assert bit_error_rate(clips["a"], clips["b"]) > 0.35
    assert not same_recording(clips["a"], clips["b"])


def test_hex_round_trip(clips):
    assert (from_hex(to_hex(clips["a"])) == clips["a"]).all()
