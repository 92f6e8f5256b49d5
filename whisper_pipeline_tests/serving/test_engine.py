"""Engine helpers that need no model."""


def test_times_past_the_audio_are_clamped():
    from whisper_pipeline.serving.engine import clamp_to_audio

    segments = [
        {
            "start": -0.2,
            "end": 4.0,
            "text": "a b",
            "words": [
                {"word": "a", "start": -0.2, "end": 1.0},
                {"word": "b", "start": 3.5, "end": 4.0},
            ],
        }
    ]
    (seg,) = clamp_to_audio(segments, 3.0)
    assert (seg["start"], seg["end"]) == (0.0, 3.0)
    assert [(w["start"], w["end"]) for w in seg["words"]] == [(0.0, 1.0), (3.0, 3.0)]


def test_words_are_put_in_order_without_overlaps():
    """Windows decoded apart can overlap at their seams; karaoke and subtitles need one word at a time."""
    from whisper_pipeline.serving.engine import in_order

    segments = [
        {"start": 0.0, "end": 2.0, "text": "a b", "words": [{"word": "a", "start": 0.0, "end": 1.2}]},
        {
            "start": 1.0,
            "end": 3.0,
            "text": "b c",
            "words": [{"word": "b", "start": 1.0, "end": 2.0}, {"word": "c", "start": 0.5, "end": 0.6}],
        },
    ]
    words = [w for s in in_order(segments) for w in s["words"]]
    assert [(w["start"], w["end"]) for w in words] == [(0.0, 1.0), (1.0, 1.0), (1.0, 1.0)]
    assert segments[1]["start"] == 1.0 and segments[1]["end"] == 1.0


def test_an_unknown_backend_is_refused():
    import pytest

    from whisper_pipeline.serving.engine import TranscriptionEngine

    with pytest.raises(ValueError, match="backend 'onnx': use one of auto, ct2, transformers"):
        TranscriptionEngine(backend="onnx")
