"""check_audio against real files made by espeak-ng and ffmpeg."""

import subprocess

import numpy as np
import pytest

from whisper_pipeline.audio.ffmpeg import AudioError, decode
from whisper_pipeline.audio.inspect import check_audio
from whisper_pipeline_tests.conftest import espeak_wav


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    wav = espeak_wav("Dobar dan, ovo je probna rečenica.", "hr", d / "speech.wav")
    out = {"wav": wav}
    for ext, args in {
        "flac": ["-ar", "44100", "-ac", "2"],
        "mp3": ["-b:a", "64k"],
        "ogg": ["-c:a", "libvorbis"],
    }.items():
        target = d / f"speech.{ext}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), *args, str(target)], check=True)
        out[ext] = target
    for ext in ("wav", "flac", "mp3"):
        data = out[ext].read_bytes()
        (d / f"cut.{ext}").write_bytes(data[: len(data) // 2])
        out[f"cut_{ext}"] = d / f"cut.{ext}"
    (d / "text.wav").write_text("not audio")
    out["text"] = d / "text.wav"
    (d / "empty.mp3").write_bytes(b"")
    out["empty"] = d / "empty.mp3"
    return out


@pytest.mark.parametrize("key", ["wav", "flac", "mp3", "ogg"])
def test_good_files_are_ok_whatever_the_format(clips, key):
    result = check_audio(clips[key])
    assert result.status == "ok", result
    assert 2.0 < result.duration_s < 4.0
    assert len(result.sha256) == 64


@pytest.mark.parametrize(
    "key,status",
    [
        ("cut_wav", "truncated"),
        ("cut_flac", "truncated"),
        ("cut_mp3", "truncated"),
        ("text", "undecodable"),
        ("empty", "empty"),
    ],
)
def test_bad_files_are_classified_not_raised(clips, key, status):
    result = check_audio(clips[key])
    assert result.status == status
    assert not result.usable


def test_decode_gives_16k_mono_float(clips):
    stereo44k = decode(clips["flac"])
    mono22k = decode(clips["wav"])
    assert stereo44k.dtype == np.float32 and stereo44k.ndim == 1
    assert abs(stereo44k.size - mono22k.size) < 16000 * 0.05


def test_decode_error_names_the_file(clips):
    with pytest.raises(AudioError) as err:
        decode(clips["text"])
    assert str(clips["text"]) in str(err.value)
    assert err.value.reason == "undecodable"


def test_silence_and_clipping(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    sf.write(tmp_path / "hiss.wav", 1e-5 * rng.standard_normal(32000), 16000)
    burst = np.zeros(64000)
    burst[:3200] = 0.5 * np.sin(np.arange(3200) / 5)
    sf.write(tmp_path / "burst.wav", burst, 16000)
    sf.write(tmp_path / "loud.wav", np.clip(3 * np.sin(np.arange(32000) / 7), -1, 1), 16000)
    assert check_audio(tmp_path / "hiss.wav").status == "silent"
    assert check_audio(tmp_path / "burst.wav").status == "mostly_silence"
    loud = check_audio(tmp_path / "loud.wav")
    assert loud.status == "ok" and loud.flags and loud.flags[0].startswith("clipping")


def test_snr_estimate_tracks_added_noise(clips):
    """White noise mixed in at a known SNR (relative to the speech frames' power) is estimated within a few dB."""
    from whisper_pipeline.audio.inspect import SNR_CAP_DB, estimate_snr_db

    speech = decode(clips["wav"])
    frame = 320
    n = speech.size // frame
    power = np.mean(speech[: n * frame].reshape(n, frame) ** 2, axis=1)
    speech_power = float(np.mean(power[power > power.max() * 1e-3]))
    rng = np.random.default_rng(0)
    estimates = []
    for target in (0, 10, 20, 30):
        noise = rng.standard_normal(speech.size) * np.sqrt(speech_power / 10 ** (target / 10))
        estimate = estimate_snr_db((speech + noise).astype(np.float32))
        assert abs(estimate - target) <= 4.0, (target, estimate)
        estimates.append(estimate)
    assert estimates == sorted(estimates)
    assert estimate_snr_db(speech) == SNR_CAP_DB, "espeak's digital silence reads as clean"
    assert check_audio(clips["flac"]).snr_db is not None
