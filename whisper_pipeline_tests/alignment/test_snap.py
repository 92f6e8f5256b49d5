import numpy as np

from whisper_pipeline.alignment.align import plausibility_problem, snap_to_speech


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)


def test_word_start_moves_out_of_the_pause_before_it():
    # word A 0.2–0.6, pause 0.6–1.0, word B 1.0–1.5
    audio = np.concatenate([silence(0.2), tone(0.4), silence(0.4), tone(0.5), silence(0.3)])
    aligned = [{"word": " A", "start": 0.1, "end": 0.55}, {"word": " B", "start": 0.55, "end": 1.55}]
    a, b = snap_to_speech(aligned, audio)
    assert (a["start"], b["start"], b["end"]) == (0.2, 1.0, 1.5)
    assert a["end"] == 0.6, "the previous word now ends where the pause begins"
    assert aligned[1]["start"] == 0.55, "input left unchanged"


def test_touching_words_and_silent_words_are_left_alone():
    audio = np.concatenate([tone(1.0)])
    aligned = [{"word": " A", "start": 0.0, "end": 0.5}, {"word": " B", "start": 0.5, "end": 1.0}]
    assert snap_to_speech(aligned, audio) == aligned
    quiet = np.concatenate([silence(1.0), tone(0.5)])
    ghost = [{"word": " x", "start": 0.2, "end": 0.6}]
    assert snap_to_speech(ghost, quiet) == ghost


def test_implausible_alignments_are_named():
    words = [{"word": "a", "start": 0.0, "end": 0.3}, {"word": "b", "start": 4.0, "end": 4.3}]
    assert "unaligned stretch" in plausibility_problem(words, 5.0)
    assert "cover only" in plausibility_problem([{"word": "a", "start": 0.0, "end": 0.5}], 10.0)
    assert "zero length" in plausibility_problem([{"word": w, "start": 1.0, "end": 1.0} for w in "abc"], 2.0)
    assert plausibility_problem([{"word": "a", "start": 0.1, "end": 0.9}], 1.0) == ""
    placed = [{"word": f" {w}", "start": i * 0.3, "end": i * 0.3 + 0.25} for i, w in enumerate("u parku parku kraj".split())]
    assert plausibility_problem(placed, 1.2, "u parku kraj") == "aligned words differ from the transcript (4 words placed for 3)"
    assert plausibility_problem(placed, 1.2, "u parku  parku kraj") == ""
