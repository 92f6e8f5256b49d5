import pytest

from whisper_pipeline.alignment.formats import lrc_time, to_lrc, to_srt, to_vtt
from whisper_pipeline.alignment.segment import segment_cues, segment_words

SEGMENTS = [
    {
        "start": 0.5,
        "end": 2.25,
        "text": " Dobar dan,",
        "words": [{"word": " Dobar", "start": 0.5, "end": 0.9}, {"word": " dan,", "start": 1.0, "end": 2.25}],
    },
    {
        "start": 62.0,
        "end": 3725.5,
        "text": " Laku noć.",
        "words": [{"word": " Laku", "start": 62.0, "end": 62.4}, {"word": " noć.", "start": 62.5, "end": 3725.5}],
    },
]


def test_srt_vtt_and_enhanced_lrc():
    assert to_srt(SEGMENTS) == (
        "1\n00:00:00,500 --> 00:00:02,250\nDobar dan,\n\n2\n00:01:02,000 --> 01:02:05,500\nLaku noć.\n"
    )
    assert to_vtt(SEGMENTS).startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.250\nDobar dan,\n")
    lrc = to_lrc(SEGMENTS, title="utt1", language="hr").splitlines()
    assert lrc[:2] == ["[ti:utt1]", "[la:hr]"]
    assert lrc[3] == "[00:00.50]<00:00.50> Dobar <00:01.00> dan, <00:02.25>"
    assert lrc[4] == "[01:02.00]<01:02.00> Laku <01:02.50> noć. <62:05.50>"
    assert lrc_time(59.999) == "01:00.00"


def words_for(text: str, seconds_per_word: float = 0.5, pause_every: int = 0) -> list[dict]:
    out, t = [], 0.3
    for n, token in enumerate(text.split()):
        out.append(
            {
                "word": " " + token.rstrip(".,") if n % 3 == 0 else " " + token,
                "start": t,
                "end": t + seconds_per_word - 0.1,
            }
        )
        t += seconds_per_word + (0.8 if token.endswith(".") else 0.0)
    return out


def test_long_transcript_cut_at_word_boundaries_and_rejoins():
    sentences = ["Ovo je rečenica broj {} u dugom predavanju o povijesti grada."]
    text = " ".join(sentences[0].format(i) for i in range(30))
    words = words_for(text)
    segments = segment_words(text, words, max_s=30.0)
    assert len(segments) > 1
    assert all(s.duration <= 30.0 + 1e-6 for s in segments)
    assert " ".join(s.text for s in segments) == text, "segments concatenate back to the transcript"
    assert all(s.text.endswith(".") for s in segments[:-1]), "cut at sentence ends when there is one"
    assert sum(s.words for s in segments) == len(words)
    assert all(a.end <= b.start + 0.2 for a, b in zip(segments, segments[1:]))


def test_no_sentence_end_cuts_at_the_longest_pause():
    text = " ".join(f"riječ{i}" for i in range(80))
    words = [{"word": f" riječ{i}", "start": i * 0.5, "end": i * 0.5 + 0.4} for i in range(80)]
    for w in words[50:]:
        w["start"] += 1.5
        w["end"] += 1.5
    segments = segment_words(text, words, max_s=30.0)
    assert segments[0].text.split()[-1] == "riječ49"
    assert " ".join(s.text for s in segments) == text


def test_word_longer_than_the_limit_is_an_error():
    with pytest.raises(ValueError, match="longer than"):
        segment_words("aaa", [{"word": "aaa", "start": 0.0, "end": 40.0}])


def test_subtitle_cues_grouped_up_to_the_limit():
    cues = [{"start": i * 4.0, "end": i * 4.0 + 3.5, "text": f"Rečenica {i}."} for i in range(20)]
    segments = segment_cues(cues)
    assert all(s.duration <= 30.0 for s in segments) and sum(s.words for s in segments) == 20
    assert " ".join(s.text for s in segments) == " ".join(c["text"] for c in cues)
