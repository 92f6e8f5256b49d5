"""Cut long recordings into training segments of at most 30 s at word boundaries.

Whisper's encoder sees 30 s windows, so a lecture or a harvested video with one transcript must be
cut before training. Cuts go where the alignment puts a word boundary, preferring the end of a
sentence, then the longest pause; each segment's transcript is the exact slice of the original
transcript its words came from, so the segments' transcripts concatenate back to the original text.
Subtitle cues (harvested videos) can be grouped the same way without an alignment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from whisper_pipeline.data.manifests import ManifestLine

MAX_SEGMENT_S = 30.0
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”)]*$")


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: int

    @property
    def duration(self) -> float:
        return self.end - self.start


def locate_words(transcript: str, words: list[dict]) -> list[tuple[int, int]]:
    """Character span of each aligned word in the transcript (matched in order), extended to the
    next whitespace so punctuation the aligner split off stays with its word."""
    spans, pos = [], 0
    for w in words:
        token = w["word"].strip()
        found = transcript.find(token, pos) if token else -1
        if found < 0:  # the aligner changed the token (rare): take it as covering nothing new
            spans.append((pos, pos))
            continue
        end = found + len(token)
        while end < len(transcript) and not transcript[end].isspace():
            end += 1
        spans.append((found, end))
        pos = end
    return spans


def _best_cut(words: list[dict], first: int, last: int, min_words: int) -> int:
    """Index of the word after which to cut, among ``first..last``: a sentence end, else the longest pause."""
    candidates = range(max(first, first + min_words - 1), last + 1)
    sentence_ends = [i for i in candidates if _SENTENCE_END.search(words[i]["word"].strip())]
    if sentence_ends:
        return sentence_ends[-1]
    return max(candidates, key=lambda i: (words[i + 1]["start"] - words[i]["end"] if i + 1 < len(words) else 0.0, i))


def segment_words(
    transcript: str, words: list[dict], max_s: float = MAX_SEGMENT_S, pad_s: float = 0.1, audio_end: float | None = None
) -> list[Segment]:
    """Greedy: extend a segment while it fits in ``max_s`` (with ``pad_s`` each side), then cut at the best
    boundary inside its last third. Raises ``ValueError`` if a single word is longer than ``max_s``."""
    if not words:
        return []
    spans = locate_words(transcript, words)
    segments: list[Segment] = []
    i = 0
    while i < len(words):
        start = max(0.0, words[i]["start"] - pad_s)
        j = i
        while j + 1 < len(words) and words[j + 1]["end"] + pad_s - start <= max_s:
            j += 1
        if words[j]["end"] + pad_s - start > max_s and j == i:
            raise ValueError(f"word {words[i]['word']!r} at {words[i]['start']:.1f}s is longer than {max_s}s")
        cut = j if j + 1 == len(words) else _best_cut(words, i + (j - i) * 2 // 3, j, 1)
        end = words[cut]["end"] + pad_s
        if cut + 1 < len(words):
            end = min(end, (words[cut]["end"] + words[cut + 1]["start"]) / 2 + pad_s)
        if audio_end is not None:
            end = min(end, audio_end)
        text_start = spans[i][0] if i == 0 else spans[i - 1][1]
        text_end = len(transcript) if cut + 1 == len(words) else spans[cut][1]
        segments.append(Segment(round(start, 3), round(end, 3), transcript[text_start:text_end].strip(), cut - i + 1))
        i = cut + 1
    return segments


def segment_cues(cues: list[dict], max_s: float = MAX_SEGMENT_S) -> list[Segment]:
    """Group consecutive subtitle cues (``start``, ``end``, ``text``) into segments of at most ``max_s``."""
    segments: list[Segment] = []
    group: list[dict] = []
    for cue in cues:
        if cue["end"] - cue["start"] > max_s:
            raise ValueError(f"subtitle cue at {cue['start']:.1f}s is longer than {max_s}s")
        if group and cue["end"] - group[0]["start"] > max_s:
            segments.append(
                Segment(group[0]["start"], group[-1]["end"], " ".join(c["text"].strip() for c in group), len(group))
            )
            group = []
        group.append(cue)
    if group:
        segments.append(
            Segment(group[0]["start"], group[-1]["end"], " ".join(c["text"].strip() for c in group), len(group))
        )
    return segments


def cut_segments(line: ManifestLine, segments: list[Segment], target_for) -> list[ManifestLine]:
    """Write each segment of a processed line as its own 16 kHz WAV (atomically) and return the
    manifest lines: the parent's fields, the segment's id/audio/transcript/duration, ``parent``,
    and ``offset`` (start in the parent's processed audio)."""
    import soundfile as sf

    from whisper_pipeline.audio.ffmpeg import write_wav16
    from whisper_pipeline.io import atomic_path

    audio, rate = sf.read(line.audio, dtype="float32")
    out = []
    for k, seg in enumerate(segments):
        seg_id = f"{line.id}-seg{k:03d}"
        target = target_for(seg_id)
        with atomic_path(target, suffix=".wav") as tmp:
            write_wav16(tmp, audio[int(seg.start * rate) : int(seg.end * rate)], rate)
        out.append(
            replace(
                line,
                id=seg_id,
                audio=str(target),
                transcript=seg.text,
                duration=round(sf.info(str(target)).duration, 3),
                parent=line.id,
                offset=seg.start,
            )
        )
    return out


def aligned_words(json_path: str | Path) -> list[dict]:
    """The words of an alignment document (``transcription_base.json``), in order."""
    doc = json.loads(Path(json_path).read_text(encoding="utf-8"))
    return [w for s in doc["segments"] for w in s["words"]]


def trimmed_cues(line: ManifestLine) -> list[dict] | None:
    """Subtitle cues of a harvested recording (``<stem>.cues.json`` next to its source audio, written by
    ``harvest/ytdlp.py``), shifted onto the silence-trimmed processed audio; None when it has none."""
    path = Path(line.source_audio or "").with_suffix(".cues.json")
    if not path.is_file():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))
    cues = doc["cues"] if isinstance(doc, dict) else doc  # harvest writes {"subtitles": …, "cues": […]}
    shift = (line.trim or [0.0, 0.0])[0]
    return [{**c, "start": max(0.0, c["start"] - shift), "end": max(0.0, c["end"] - shift)} for c in cues]


def plan_long_form(line: ManifestLine, alignment: dict, max_s: float = MAX_SEGMENT_S) -> tuple[list[Segment], str]:
    """How a processed line longer than ``max_s`` is cut for training: at the words of its alignment when
    that is trustworthy (``status`` aligned), else at its subtitle cues; returns the segments and what
    they were cut by ("words" or "subtitle cues"). Raises ``ValueError`` saying why when it cannot be cut
    (neither, or a word or cue longer than ``max_s``): the recording is then left out of training."""
    if alignment["status"] == "aligned":
        words = aligned_words(alignment["json_path"])
        return segment_words(line.transcript, words, max_s, audio_end=line.duration), "words"
    if (cues := trimmed_cues(line)) is not None:
        return segment_cues(cues, max_s), "subtitle cues"
    raise ValueError(f"alignment {alignment['status']} ({alignment['reason']}) and no subtitle cues")
