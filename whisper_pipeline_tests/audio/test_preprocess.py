import soundfile as sf

from whisper_pipeline.audio.inspect import sha256_file
from whisper_pipeline.audio.preprocess import duration_mismatches, preprocess_rows
from whisper_pipeline_tests.conftest import espeak_wav


def test_converts_to_16k_mono_pcm16_and_reuses_on_rerun(tmp_path):
    src = espeak_wav("Sutra će biti sunčano.", "hr", tmp_path / "a.wav")
    before = src.read_bytes()
    row = {"id": "a", "audio": str(src), "sha256": sha256_file(src), "duration": 0.0}
    target_for = lambda r: tmp_path / "out" / f"{r['id']}.wav"  # noqa: E731
    lines, converted = preprocess_rows([row], target_for, previous={}, workers=1)
    info = sf.info(lines[0]["audio"])
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert converted == 1
    assert src.read_bytes() == before, "the source must never be modified"
    assert not list((tmp_path / "out").glob(".*")), "no temp files left behind"

    again, converted = preprocess_rows([row], target_for, previous={"a": lines[0]}, workers=1)
    assert converted == 0 and again == lines


def test_duration_mismatch_is_reported(tmp_path):
    src = espeak_wav("Kiša pada.", "hr", tmp_path / "b.wav")
    row = {"id": "b", "audio": str(src), "sha256": "x", "duration": 0.0}
    lines, _ = preprocess_rows([row], lambda r: tmp_path / "b16.wav", previous={}, workers=1)
    lines[0]["manifest_duration"] = lines[0]["duration"]
    assert duration_mismatches(lines) == []
    lines[0]["manifest_duration"] += 1.0
    assert "b16.wav" in duration_mismatches(lines)[0]
