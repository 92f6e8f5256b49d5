"""Word-boundary accuracy of the real aligner on speech with known boundaries (slow: real whisper-base)."""

import pytest

from whisper_pipeline.alignment.accuracy import boundary_errors, build_clip, summarize
from whisper_pipeline.alignment.align import align_file, load_aligner
from whisper_pipeline.sample_data import sentences


@pytest.mark.slow
def test_mean_boundary_error_under_100_ms(real_base_model, tmp_path):
    aligner = load_aligner(real_base_model, "cpu")
    errors = []
    for i, sentence in enumerate(sentences("hr")[10:16]):
        clip = build_clip(sentence, tmp_path / f"{i}.wav", voice="hr", seed=i, noise_snr_db=20.0)
        result = align_file(aligner, clip.audio, clip.text, "hr", f"c{i}", tmp_path / "out", 10.0)
        import json

        doc = json.loads(open(result.json_path).read())
        e = boundary_errors(clip.words, [w for s in doc["segments"] for w in s["words"]])
        assert e is not None, sentence
        errors += e
    stats = summarize(errors)
    assert stats["mean_ms"] <= 100, stats
    assert (tmp_path / "out" / "c0" / "karaoke.lrc").is_file()
