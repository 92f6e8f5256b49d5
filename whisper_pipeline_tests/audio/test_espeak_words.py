"""espeak-ng word starts through the C API: as many as the text has words, in order, and where the
speech actually starts when words are separated by pauses (real espeak-ng, no mocks)."""

from itertools import pairwise

import numpy as np
import pytest

from whisper_pipeline.audio.espeak_words import speak_with_word_starts

FRAME_S = 0.005


def energy_onset(audio: np.ndarray, rate: int, after_s: float) -> float:
    """First 5 ms frame at or after ``after_s`` louder than -40 dBFS."""
    frame = int(FRAME_S * rate)
    n = audio.size // frame
    power = np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1)
    first = int(after_s / FRAME_S)
    loud = np.flatnonzero(10 * np.log10(power[first:] + 1e-12) > -40)
    assert loud.size, f"no speech after {after_s:.3f} s"
    return (first + loud[0]) * FRAME_S


@pytest.mark.parametrize(
    "text, voice",
    [
        ("Sutra će biti sunčano i toplo, a sutradan kiša.", "hr"),
        ("Nana je ispekla pitu od krompira.", "bs+f2"),
        (
            "Воз за Нови Сад полази у девет.",
            "sr",
        ),  # two bytes a letter: positions are characters
    ],
)
def test_one_start_per_word_in_order(text, voice):
    samples, rate, words = speak_with_word_starts(text, voice)
    assert rate == 22050 and samples.dtype == np.float32 and samples.size > rate
    assert [w for w, _ in words] == text.split()
    starts = [s for _, s in words]
    assert starts[0] == 0.0
    assert all(b - a > 0.05 for a, b in pairwise(starts)), words
    assert starts[-1] < samples.size / rate - 0.1


def test_starts_fall_on_energy_onsets_when_words_are_separated_by_pauses():
    # Vowels, nasals, liquids, glides: no silent closure, so speech is audible from the first sample
    # of the word. The commas make espeak pause, so each onset is an unambiguous energy edge.
    text = "Mama, nema, lijepo, jutro, voda, ruka, oko, mir, uvijek, zima."
    samples, rate, words = speak_with_word_starts(text, "hr", 150)
    for word, start in words:
        onset = energy_onset(samples, rate, max(0.0, start - 0.05))
        assert -0.01 <= onset - start <= 0.03, (word, start, onset)


def test_a_stop_starts_at_its_closure_before_the_burst():
    # The word event marks the start of the stop's silent closure; the burst is heard a little later.
    samples, rate, words = speak_with_word_starts("Ana, pas, tata, kuća, Petar, dan.", "hr", 150)
    for word, start in words[1:]:
        gap = energy_onset(samples, rate, max(0.0, start - 0.05)) - start
        assert (0.02 if word[0] in "ptkdPTKD" else -0.01) <= gap <= 0.1, (
            word,
            start,
            gap,
        )


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="no voice"):
        speak_with_word_starts("dobro", "xx-nonexistent")
    with pytest.raises(ValueError, match="no word event"):
        speak_with_word_starts("Ja – ti", "hr")
