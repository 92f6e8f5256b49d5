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
