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


@pytest.fixture(scope="module")
def more_clips(clips, tmp_path_factory):
    """Opus, M4A/AAC and stereo MP3 at 48/44.1 kHz, a cut-off Opus, a WAV header over nothing."""
    d = tmp_path_factory.mktemp("more")
    out = dict(clips)
    for name, args in {
        "speech.opus": ["-ac", "2", "-c:a", "libopus", "-b:a", "32k"],
        "speech.m4a": ["-ar", "44100", "-c:a", "aac", "-b:a", "64k"],
        "stereo.mp3": ["-ar", "44100", "-ac", "2", "-b:a", "96k"],
    }.items():
        target = d / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clips["wav"]), *args, str(target)], check=True)
        out[name] = target
    data = out["speech.opus"].read_bytes()
    (d / "cut.opus").write_bytes(data[: len(data) // 2])
    out["cut_opus"] = d / "cut.opus"
    return out


@pytest.mark.parametrize(
    "key",
    ["wav", "flac", "mp3", "ogg", "speech.opus", "speech.m4a", "stereo.mp3"]
    + ["cut_wav", "cut_flac", "cut_mp3", "cut_opus", "text", "empty"],
)
def test_in_process_check_matches_the_ffmpeg_cli_check(more_clips, key):
    """Status, detail, facts and measures as the ffprobe + ffmpeg path gives them (the path before this one)."""
    from whisper_pipeline.audio.fingerprint import bit_error_rate, from_hex
    from whisper_pipeline.audio.inspect import check_audio_ffmpeg

    ours, before = check_audio(more_clips[key]).as_dict(), check_audio_ffmpeg(more_clips[key]).as_dict()
    exact = ("path", "size_bytes", "sha256", "status", "sample_rate", "channels", "codec", "flags", "detail")
    assert {k: ours[k] for k in exact} == {k: before[k] for k in exact}
    assert ours["duration_s"] == pytest.approx(before["duration_s"], abs=0.002)
    for measure, tolerance in (("active_fraction", 0.002), ("clipped_fraction", 1e-4), ("peak_dbfs", 0.1)):
        assert ours[measure] == pytest.approx(before[measure], abs=tolerance), measure
    assert (ours["snr_db"] is None) == (before["snr_db"] is None)
    if ours["snr_db"] is not None:
        assert ours["snr_db"] == pytest.approx(before["snr_db"], abs=0.2)
    if before["fingerprint"]:
        assert bit_error_rate(from_hex(ours["fingerprint"]), from_hex(before["fingerprint"])) < 0.01


def test_measures_fed_block_by_block_equal_the_whole_array_at_once(clips):
    from whisper_pipeline.audio.inspect import AudioCheck, SignalStats

    rng = np.random.default_rng(3)
    audio = np.concatenate([decode(clips["flac"])] * 3)
    audio[5000:5300] = 1.0  # some clipping
    whole, parts = SignalStats(), SignalStats()
    whole.feed(audio)
    cuts = np.sort(rng.integers(0, audio.size, 9))
    for block in np.split(audio, cuts):
        parts.feed(block)
    a, b = AudioCheck("x", 0, "", "ok"), AudioCheck("x", 0, "", "ok")
    whole.fill(a)
    parts.fill(b)
    assert a.as_dict() == b.as_dict() and a.fingerprint and a.snr_db is not None


def test_a_known_hash_is_not_computed_again(clips):
    from whisper_pipeline.audio.inspect import sha256_file

    given = check_audio(clips["mp3"], sha256="f" * 64)
    assert given.sha256 == "f" * 64 and given.status == "ok"
    assert check_audio(clips["mp3"]).sha256 == sha256_file(clips["mp3"])
