"""Align each known transcript to its audio with stable-ts and write the per-file outputs.

stable-ts 2.19's ``load_hf_whisper(path)`` passes an argument transformers 5 removed, so we
build the ``transformers`` ASR pipeline ourselves and hand it over.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from whisper_pipeline.alignment.formats import to_lrc, to_srt, to_vtt
from whisper_pipeline.alignment.segment import MAX_SEGMENT_S
from whisper_pipeline.device import pick_device
from whisper_pipeline.io import write_json, write_text
from whisper_pipeline.workspace import KARAOKE_LRC

if TYPE_CHECKING:
    import numpy as np

# Which snapping rule an alignment on disk was made with: a saved alignment made with another rule is
# aligned again, so a changed rule reaches every file (2: the adaptive margin, 2026-11-29).
SNAP_RULE = 2
MAX_GAP_S = 3.0  # a longer silence between two aligned words suggests words were skipped
MIN_WORD_COVERAGE = 0.3  # words must span at least this share of the (silence-trimmed) audio


@dataclass(frozen=True)
class AlignmentSettings:
    max_segment_s: float = field(
        default=MAX_SEGMENT_S, metadata={"help": "Longer recordings are cut into segments of at most this"}
    )
    min_coverage: float = field(
        default=0.8, metadata={"help": "Warn when fewer files than this get trustworthy timestamps"}
    )


def load_aligner(model_path: str, device: str | None = None):
    import stable_whisper
    import torch
    import transformers

    device = device or pick_device()
    dtype = torch.float16 if device == "cuda" else torch.float32
    pipe = transformers.pipeline("automatic-speech-recognition", model=model_path, device=device, dtype=dtype)
    return stable_whisper.load_hf_whisper(model_path, pipeline=pipe, device=device)


@dataclass
class AlignmentResult:
    file_id: str
    status: str  # aligned | failed | implausible
    words: int = 0
    duration: float = 0.0
    reason: str = ""
    json_path: str = ""


def _words(result_dict: dict) -> list[dict]:
    return [w for s in result_dict.get("segments", []) for w in s.get("words", [])]


def plausibility_problem(words: list[dict], duration: float, text: str | None = None) -> str:
    """Why an alignment should not be trusted, or '' if it looks fine. With ``text``, the aligned words
    must spell it exactly: stable-ts can repeat or drop a word where it re-seeks after a failed stretch."""
    if not words:
        return "no words aligned"
    if text is not None and "".join("".join(w["word"].split()) for w in words) != "".join(text.split()):
        return f"aligned words differ from the transcript ({len(words)} words placed for {len(text.split())})"
    zero = sum(1 for w in words if (w["end"] - w["start"]) <= 0.0)
    if zero / len(words) > 0.5:
        return f"{zero}/{len(words)} words squeezed to zero length"
    if words[-1]["end"] > duration + 0.5:
        return f"words end at {words[-1]['end']:.2f}s past the audio ({duration:.2f}s)"
    gaps = [(b["start"] - a["end"], a["end"]) for a, b in itertools.pairwise(words)]
    longest = max(gaps, default=(0.0, 0.0))
    if longest[0] > MAX_GAP_S:
        return f"{longest[0]:.1f}s unaligned stretch after {longest[1]:.2f}s"
    span = words[-1]["end"] - words[0]["start"]
    if duration > 0 and span / duration < MIN_WORD_COVERAGE:
        return f"words cover only {span / duration:.0%} of the audio"
    return ""


TIMESTAMP_TOKEN = re.compile(r"<\|\d+(?:\.\d+)?\|>")


def result_segments(result, audio=None) -> list[dict]:
    """Plain segments (``start``, ``end``, ``text``, ``words``) from a stable-ts result, in float seconds.

    Timestamp tokens (``<|0.66|>``) that the transformers pipeline sometimes leaves in the text are
    dropped. With ``audio`` (16 kHz mono samples) word boundaries are snapped to speech."""
    segments = []
    for seg in result.to_dict().get("segments", []):
        words = [
            {
                "word": TIMESTAMP_TOKEN.sub("", w["word"]),
                "start": float(w["start"]),
                "end": float(w["end"]),
                "probability": None if w.get("probability") is None else float(w["probability"]),
            }
            for w in seg.get("words", [])
        ]
        words = [w for w in words if w["word"].strip()]
        segments.append(
            {
                "start": float(seg["start"]),
                "end": float(seg["end"]),
                "text": " ".join(TIMESTAMP_TOKEN.sub("", seg["text"]).split()),
                "words": words,
            }
        )
    if audio is not None:
        return snap_segments(segments, audio)
    return [seg for seg in segments if seg["text"] or seg["words"]]


def snap_segments(segments: list[dict], audio: np.ndarray) -> list[dict]:
    """Word starts moved out of the pauses before them (``snap_to_speech``); a segment then spans its
    first to its last word. Segments left without text and words are dropped."""
    flat = snap_to_speech([w for seg in segments for w in seg["words"]], audio)
    k = 0
    for seg in segments:
        seg["words"], k = flat[k : k + len(seg["words"])], k + len(seg["words"])
        if seg["words"]:
            seg["start"], seg["end"] = seg["words"][0]["start"], seg["words"][-1]["end"]
    return [seg for seg in segments if seg["text"] or seg["words"]]


ALIGNMENT_JSON = "transcription_base.json"  # in each file's output directory, with .txt/.srt/.vtt beside it


def align_file(
    aligner,
    audio_path: str,
    transcript: str,
    language: str,
    file_id: str,
    file_dir: Path,
    duration: float,
    snap: bool = True,
) -> AlignmentResult:
    """Align one file; writes ``transcription_base.json`` (+ ``.txt``, ``.srt``, ``.vtt``) and ``karaoke.lrc``
    into ``file_dir`` (the file's own directory, ``Workspace.alignment_outputs``)."""
    target = file_dir / ALIGNMENT_JSON
    try:
        result = aligner.align(audio_path, transcript, language=language, verbose=None)
    except Exception as exc:  # noqa: BLE001 - stable-ts raises many types for bad audio/text; report, don't stop
        return AlignmentResult(file_id, "failed", reason=f"{type(exc).__name__}: {exc}"[:300])
    if result is None:
        return AlignmentResult(file_id, "failed", reason="aligner returned no result")
    if snap:
        from whisper_pipeline.audio.ffmpeg import decode

        segments = result_segments(result, decode(audio_path))
    else:
        segments = result_segments(result)
    words = [w for seg in segments for w in seg["words"]]
    doc = {
        "file_id": file_id,
        "audio": audio_path,
        "language": language,
        "text": transcript,
        "duration": duration,
        "boundaries_snapped_to_speech": snap,
        "snap_rule": SNAP_RULE if snap else None,
        "segments": segments,
    }
    problem = plausibility_problem(words, duration, transcript)
    doc["status"] = "implausible" if problem else "aligned"
    doc["problem"] = problem
    write_json(target, doc)
    lines = [f"[{w['start']:.2f}-{w['end']:.2f}] {w['word'].strip()}" for w in words]
    write_text(target.with_suffix(".txt"), transcript + "\n\n" + "\n".join(lines) + "\n")
    write_text(target.with_suffix(".srt"), to_srt(doc["segments"]))
    write_text(target.with_suffix(".vtt"), to_vtt(doc["segments"]))
    write_text(file_dir / KARAOKE_LRC, to_lrc(doc["segments"], title=file_id, language=language))
    return AlignmentResult(
        file_id, doc["status"], words=len(words), duration=duration, reason=problem, json_path=str(target)
    )


def load_existing(file_dir: Path, file_id: str, transcript: str) -> AlignmentResult | None:
    """A finished alignment of the same text from an earlier (possibly crashed) run; None when there is
    none, or when what is there is not a whole alignment document (a torn write can end mid-character,
    which is not even valid UTF-8): the file is then aligned again."""
    target = file_dir / ALIGNMENT_JSON
    if not target.is_file():
        return None
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
        n = sum(len(s["words"]) for s in doc["segments"])
    except (ValueError, KeyError, TypeError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    if (
        doc.get("text") != transcript
        or "boundaries_snapped_to_speech" not in doc
        or not (file_dir / KARAOKE_LRC).is_file()
    ):
        return None
    if doc["boundaries_snapped_to_speech"] and doc.get("snap_rule") != SNAP_RULE:
        return None  # snapped by an older rule
    return AlignmentResult(
        file_id,
        doc.get("status", "aligned"),
        words=n,
        reason=doc.get("problem", ""),
        json_path=str(target),
        duration=doc.get("duration", 0.0),
    )


def _runs(mask) -> list[tuple[int, int]]:
    """(start, end) index pairs of the True runs of a boolean array."""
    import numpy as np

    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2]))


# How far above the noise floor a frame must be to count as speech in ``snap_to_speech``: this
# share of the clip's speech-to-floor spread, within these bounds (dB). Chosen on half of the
# benchmark sentences and checked on the other half (bench/alignment_accuracy.py --replay).
SNAP_MARGIN_SHARE = 0.2
SNAP_MARGIN_DB_RANGE = (3.0, 12.0)


def _snap_margin_db(floor_db: float, speech_db: float) -> float:
    """The speech margin over the noise floor for a clip with these levels (10th and 90th
    percentile of frame power).

    A fixed 12 dB works while speech stands far above the floor, but with speech only 10-25 dB above
    it (noisy recordings) weak consonants and word onsets fall under floor + 12 dB, count as pause,
    and snapping pushed word starts late (median +125 ms at 10 dB SNR). A share of the spread keeps
    12 dB for clean audio and shrinks towards 3 dB (as much signal as noise) as the floor rises."""
    low, high = SNAP_MARGIN_DB_RANGE
    return min(high, max(low, SNAP_MARGIN_SHARE * (speech_db - floor_db)))


def snap_to_speech(
    words: list[dict],
    audio,
    sample_rate: int = 16000,
    frame_s: float = 0.01,
    margin_db: float | None = None,
    min_pause_s: float = 0.12,
    min_word_s: float = 0.05,
) -> list[dict]:
    """Move word starts out of the pauses before them, to where the signal rises over the noise.

    Whisper's cross-attention tends to start a word where the previous one ended, so after a pause
    the start comes early (by ~0.1-0.3 s on our measurements). A frame is speech when its power is
    more than ``margin_db`` above the noise floor (10th percentile of frame power); by default the
    margin adapts to the clip (``_snap_margin_db``). A quiet run of at least ``min_pause_s`` inside
    a word's span, beginning in its first third, means the word starts after it; the previous word,
    if it touched, then ends where the pause begins. Trailing quiet frames are trimmed from the
    end. A word never shrinks below ``min_word_s``.

    Shorter quiet runs (the default 0.12 s is deliberate), leading quiet frames and runs further
    into the word are left alone because the closure of a stop consonant (p, t, k, b, d, g: up to
    ~110 ms of near silence in espeak-ng speech), or a closure with a weak consonant drowned in noise,
    looks like a pause: a
    word starting with one was moved to its burst, and one inside a word moved the start into the
    word. On connected speech in noise the old rule (fixed 12 dB, 0.08 s, first half, leading quiet
    frames trimmed) made starts worse than not snapping at all (10 dB SNR: 56 -> 186 ms).
    """
    import numpy as np

    frame = int(frame_s * sample_rate)
    n = audio.size // frame
    if n < 3 or not words:
        return [dict(w) for w in words]
    blocks = audio[: n * frame].reshape(n, frame).astype(np.float64)
    power = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-12)
    floor, speech = np.percentile(power, [10, 90])
    if margin_db is None:
        margin_db = _snap_margin_db(float(floor), float(speech))
    loud = power > floor + margin_db
    out = [dict(w) for w in words]
    for i, w in enumerate(out):
        a, b = round(w["start"] / frame_s), min(n, round(w["end"] / frame_s))
        if b - a < 2:
            continue
        pauses = [(a + x, a + y) for x, y in _runs(~loud[a:b]) if (y - x) * frame_s >= min_pause_s and x < (b - a) / 3]
        if pauses:
            p_start, p_end = pauses[-1]
            if (b - p_end) * frame_s >= min_word_s:
                if i > 0 and abs(out[i - 1]["end"] - w["start"]) < 1e-6:
                    prev_end = max(out[i - 1]["end"], p_start * frame_s)
                    out[i - 1]["end"] = round(prev_end, 3)
                w["start"] = round(p_end * frame_s, 3)
                a = p_end
        idx = np.flatnonzero(loud[a:b])
        if idx.size and (idx[-1] + 1 - idx[0]) * frame_s >= min_word_s:
            w["end"] = round(min(w["end"], (a + idx[-1] + 1) * frame_s), 3)
    return out
