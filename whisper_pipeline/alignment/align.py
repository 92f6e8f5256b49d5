"""Align each known transcript to its audio with stable-ts and write the per-file outputs.

stable-ts 2.19's ``load_hf_whisper(path)`` passes an argument transformers 5 removed, so we
build the ``transformers`` ASR pipeline ourselves and hand it over.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from whisper_pipeline.alignment.formats import to_lrc, to_srt, to_vtt
from whisper_pipeline.alignment.segment import MAX_SEGMENT_S
from whisper_pipeline.device import on_gpu, pick_device
from whisper_pipeline.io import write_json, write_text
from whisper_pipeline.workspace import KARAOKE_LRC

if TYPE_CHECKING:
    import numpy as np

# Which snapping rule an alignment on disk was made with: a saved alignment made with another rule is
# aligned again, so a changed rule reaches every file (2: the adaptive margin, 2026-11-29; 3: the level
# over a per-frequency noise estimate, late starts moved back to the onset, issue 15).
SNAP_RULE = 3
MAX_GAP_S = 3.0  # a longer silence between two aligned words suggests words were skipped
MIN_WORD_COVERAGE = 0.3  # words must span at least this share of the (silence-trimmed) audio
SAMPLES_30S = 30 * 16000  # Whisper's window
PREFETCH_MAX_S = 600.0  # align_files decodes a batch's recordings up to this long at once (8 × 10 min ≈ 300 MB)
ENCODER_BATCH = 8  # clips per batched encoder pass (align_files); whisper-base's features: 3 MB a clip in fp32


@dataclass(frozen=True)
class AlignmentSettings:
    max_segment_s: float = field(
        default=MAX_SEGMENT_S, metadata={"help": "Longer recordings are cut into segments of at most this"}
    )
    min_coverage: float = field(
        default=0.8, metadata={"help": "Warn when fewer files than this get trustworthy timestamps"}
    )
    batch_size: int = field(
        default=ENCODER_BATCH,
        metadata={"help": "Files per batch: the encoder runs once for a batch's clips of up to 30 s (longest first)"},
    )


def load_aligner(model_path: str, device: str | None = None):
    import stable_whisper
    import torch
    import transformers

    device = device or pick_device()
    dtype = torch.float16 if on_gpu(device) else torch.float32
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
    audio: np.ndarray | None = None,
) -> AlignmentResult:
    """Align one file; writes ``transcription_base.json`` (+ ``.txt``, ``.srt``, ``.vtt``) and ``karaoke.lrc``
    into ``file_dir`` (the file's own directory, ``Workspace.alignment_outputs``). ``audio``: the file's samples,
    already decoded (``audio.ffmpeg.decode``): the snapping does not decode it again, nor does stable-ts when it
    is at most 30 s long (stable-ts streams a path in 30 s chunks, and places the words of a longer file
    differently when it has the whole array: it is given the path, as before)."""
    target = file_dir / ALIGNMENT_JSON
    whole = audio is not None and audio.size <= SAMPLES_30S
    try:
        result = aligner.align(audio if whole else audio_path, transcript, language=language, verbose=None)
    except Exception as exc:  # noqa: BLE001 - stable-ts raises many types for bad audio/text; report, don't stop
        return AlignmentResult(file_id, "failed", reason=f"{type(exc).__name__}: {exc}"[:300])
    if result is None:
        return AlignmentResult(file_id, "failed", reason="aligner returned no result")
    if snap:
        from whisper_pipeline.audio.ffmpeg import decode

        segments = result_segments(result, decode(audio_path) if audio is None else audio)
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


AlignJob = tuple[str, str, str, "str | Path", float]  # audio path, transcript, file id, output directory, duration


def align_files(
    aligner,
    jobs: list[AlignJob],
    language: str,
    batch_size: int = ENCODER_BATCH,
    snap: bool = True,
    counts: Counter | None = None,
) -> list[AlignmentResult]:
    """``align_file`` for each job, in the jobs' order, with the Whisper encoder run once per batch.

    stable-ts aligns a file by passes over 30 s windows, each pass one encoder and one decoder forward; the
    encoder (the costly half: 30 s of audio whatever the clip's length) of each clip's first window is computed
    here for ``batch_size`` clips at once, longest first, and handed to stable-ts when it asks for exactly that
    window (``PrefetchedEncoder``); a later pass (past 30 s, more than 100 tokens, a fallback re-alignment)
    computes its own as before. Each file is decoded once: stable-ts would otherwise run ffmpeg twice more for a
    clip of up to 30 s (see ``align_file``); a recording over ``PREFETCH_MAX_S`` is left to ``align_file`` (one in
    memory at a time, as before).
    ``counts`` (tests, bench) gains ``prefetched``, ``reused`` and ``computed`` encoder passes."""
    if not PrefetchedEncoder.fits(aligner):  # not stable-ts' Whisper (another model, a test's stand-in): file by file
        return [align_file(aligner, p, t, language, f, Path(d), s, snap) for p, t, f, d, s in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][4])
    results: list[AlignmentResult | None] = [None] * len(jobs)
    with PrefetchedEncoder.installed(aligner) as encoder:
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            # a recording over PREFETCH_MAX_S is decoded by align_file itself, one at a time as before, so a batch
            # of the longest recordings (up to hours each) is never held at once (a batch holds ≤ 8 × 10 min)
            audio = {i: decoded(jobs[i][0]) if jobs[i][4] <= PREFETCH_MAX_S else None for i in part}
            encoder.prefetch([a for a in audio.values() if a is not None])
            for i in part:
                path, transcript, file_id, file_dir, duration = jobs[i]
                results[i] = align_file(
                    aligner, path, transcript, language, file_id, Path(file_dir), duration, snap, audio[i]
                )
            encoder.clear()
        if counts is not None:
            counts.update(encoder.counts)
    return results  # type: ignore[return-value]


def decoded(path: str) -> np.ndarray | None:
    """The samples ``audio.ffmpeg.decode`` gives for ``path`` (processed audio is read in this process, exactly);
    None when there is nothing to decode: stable-ts then reads the file itself and says what is wrong, as before."""
    from whisper_pipeline.audio.ffmpeg import AudioError, decode

    try:
        samples = decode(path)
    except (AudioError, OSError):
        return None
    return samples if samples.size else None


class PrefetchedEncoder:
    """Stands in for the encoder of stable-ts' Whisper model (the openai-whisper model it converts the
    transformers one to) while ``align_files`` runs: a mel window equal to one of the prefetched clips' gets that
    clip's features from the batched pass, any other the encoder's own answer. The window's mel is computed as
    stable-ts computes it (``log_mel_spectrogram`` of the clip, zero-padded to 30 s), so equal is exact."""

    def __init__(self, model):
        import torch

        class Encoder(torch.nn.Module):  # a Module, so it can take the encoder's place in the model
            def __init__(self, owner: PrefetchedEncoder, inner):
                super().__init__()
                self.owner, self.inner = owner, inner

            def forward(self, x):
                return self.owner.encode(x)

        self.model, self.inner = model, model.encoder
        self.stand_in = Encoder(self, self.inner)
        self.ready: list[tuple] = []  # (mel window, features)
        self.counts: Counter = Counter()

    @staticmethod
    def fits(aligner) -> bool:
        """Whether ``aligner`` is stable-ts' transformers Whisper (``load_aligner``), whose encoder can be stood in."""
        return hasattr(aligner, "as_vanilla_model") and hasattr(aligner.as_vanilla_model(), "encoder")

    @classmethod
    @contextmanager
    def installed(cls, aligner):
        """The stand-in in the model's encoder's place for the duration; the encoder put back afterwards."""
        from stable_whisper.whisper_compatibility import as_vanilla

        model = as_vanilla(aligner)
        encoder = cls(model)
        model.encoder = encoder.stand_in
        try:
            yield encoder
        finally:
            model.encoder = encoder.inner

    def mel(self, clip: np.ndarray):
        """The log-mel window stable-ts gives the encoder for the first 30 s of ``clip``."""
        import torch
        from stable_whisper.whisper_compatibility import N_FRAMES, N_SAMPLES, log_mel_spectrogram, pad_or_trim

        samples = torch.from_numpy(clip[:N_SAMPLES])
        mel = log_mel_spectrogram(samples, self.model.dims.n_mels, padding=max(N_SAMPLES - samples.shape[-1], 0))
        return pad_or_trim(mel, N_FRAMES).to(device=self.model.device)

    def prefetch(self, clips: list[np.ndarray]) -> None:
        """One encoder pass for the first 30 s window of each of ``clips``."""
        import torch
        from stable_whisper.whisper_compatibility import disable_sdpa

        mels = [self.mel(c) for c in clips if c.size]
        if not mels:
            return
        with torch.no_grad(), disable_sdpa():  # as stable-ts runs the encoder (timing._compute_qks)
            features = self.inner(torch.stack(mels))
        self.ready = [(m, features[k : k + 1]) for k, m in enumerate(mels)]
        self.counts["prefetched"] += len(mels)

    def encode(self, x):
        if x.shape[0] == 1:
            for mel, features in self.ready:
                if mel.shape == x.shape[1:] and mel.dtype == x.dtype and bool((mel == x[0]).all()):
                    self.counts["reused"] += 1
                    return features
        self.counts["computed"] += 1
        return self.inner(x)

    def clear(self) -> None:
        self.ready = []


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
# The speech level is measured in this band (Hz), where speech has its energy and hum and rumble do not.
LEVEL_BAND_HZ = (100.0, 7000.0)
# Per frequency, the noise is estimated from this percentile of the frames' power (speech is rarely quiet
# in a given band for a fifth of the file; the quietest fifth of the frames is mostly noise).
NOISE_PERCENTILE = 20.0
# A word whose start came late (inside the word) moves back to the onset of speech at most this far
# before it, and only after a pause of at least ONSET_PAUSE_S (a real pause, longer than any stop closure).
ONSET_WINDOW_S = 0.25
ONSET_PAUSE_S = 0.2
# A pause that moves a start must be deep: its mean level at most this share of the margin above the
# floor. A weak consonant drowned in noise stays a little above the floor for its whole length, a pause
# sits at the floor (at 10 dB white noise three words inside phrases were pushed 150-350 ms late without it).
PAUSE_DEPTH = 0.35


def _snap_margin_db(floor_db: float, speech_db: float) -> float:
    """The speech margin over the noise floor for a clip with these levels (10th and 90th
    percentile of the frames' level).

    A fixed 12 dB works while speech stands far above the floor, but with speech only 10-25 dB above
    it (noisy recordings) weak consonants and word onsets fall under floor + 12 dB, count as pause,
    and snapping pushed word starts late (median +125 ms at 10 dB SNR). A share of the spread keeps
    12 dB for clean audio and shrinks towards 3 dB (as much signal as noise) as the floor rises."""
    low, high = SNAP_MARGIN_DB_RANGE
    return min(high, max(low, SNAP_MARGIN_SHARE * (speech_db - floor_db)))


def speech_level_db(audio, sample_rate: int = 16000, frame_s: float = 0.01):
    """Per ``frame_s`` frame, how far the signal stands above the file's own noise, in dB (0 = noise).

    Each frequency's noise power is estimated from the file itself (``NOISE_PERCENTILE`` of that
    frequency's power over all frames, scaled to the mean of exponentially distributed noise
    power), and a frame's level is its power relative to that noise, averaged over ``LEVEL_BAND_HZ``.
    Dividing per frequency whitens any stationary noise: pink noise puts most of its power at low
    frequencies, where it buried voiced speech in a broadband power measure, while a consonant's
    energy at 3-6 kHz still stands clear of it. Each frame's spectrum is of its own samples only (no
    window reaching into the next frame, which would find an onset a frame early); 100 Hz bins are
    fine enough to whiten noise, and this costs ~60 ms per minute of audio."""
    import numpy as np

    hop = int(frame_s * sample_rate)
    n = audio.size // hop
    if n == 0:
        return np.zeros(0)
    frames = np.asarray(audio[: n * hop], dtype=np.float32).reshape(n, hop)
    spectrum = np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32) ** 2
    freqs = np.fft.rfftfreq(hop, 1 / sample_rate)
    band = spectrum[:, (freqs >= LEVEL_BAND_HZ[0]) & (freqs <= LEVEL_BAND_HZ[1])]
    q = NOISE_PERCENTILE / 100
    noise = np.percentile(band, NOISE_PERCENTILE, axis=0) / -np.log(1 - q) + 1e-20
    return 10 * np.log10(np.mean(band / noise, axis=1) + 1e-12)


def snap_to_speech(
    words: list[dict],
    audio,
    sample_rate: int = 16000,
    frame_s: float = 0.01,
    margin_db: float | None = None,
    min_pause_s: float = 0.12,
    min_word_s: float = 0.05,
    onset_window_s: float = ONSET_WINDOW_S,
    onset_pause_s: float = ONSET_PAUSE_S,
) -> list[dict]:
    """Move word starts out of the pauses before them, and late starts back to the speech onset.

    A frame is speech when its level over the file's own noise (``speech_level_db``, per frequency,
    so pink or coloured noise counts as noise too) is more than ``margin_db`` above the floor (10th
    percentile of the levels); by default the margin adapts to the clip (``_snap_margin_db``).

    Early starts: Whisper's cross-attention tends to start a word where the previous one ended, so
    after a pause the start comes early (by ~0.1-0.3 s on our measurements). A quiet run of at least
    ``min_pause_s`` inside a word's span, beginning in its first third and deep enough (``PAUSE_DEPTH``),
    means the word starts after it; the previous word, if it touched, then ends where the pause begins.

    Late starts: the first word and words after punctuation often start 80-220 ms late, inside the
    word. When a pause of at least ``onset_pause_s`` ends within ``onset_window_s`` before the start,
    with only short quiet runs (closures) after it, the start moves back to where that pause ends,
    and the previous word ends at the pause, unless that would leave it without ``min_word_s`` of
    speech (then the "pause" is more likely a quiet consonant inside it, such as an h drowned in noise).

    Trailing quiet frames are trimmed from the end. A word never shrinks below ``min_word_s``.
    Anything less clear is left as the aligner placed it: shorter quiet runs, leading quiet frames and
    runs further into the word, because the closure of a stop consonant (p, t, k, b, d, g: up to
    ~110 ms of near silence in espeak-ng speech), or a closure with a weak consonant drowned in noise,
    looks like a pause.
    """
    import numpy as np

    level = speech_level_db(audio, sample_rate, frame_s)
    n = level.size
    if n < 3 or not words:
        return [dict(w) for w in words]
    floor, speech = np.percentile(level, [10, 90])
    if margin_db is None:
        margin_db = _snap_margin_db(float(floor), float(speech))
    loud = level > floor + margin_db
    onset_pause, window, word_frames = (
        round(onset_pause_s / frame_s),
        round(onset_window_s / frame_s),
        round(min_word_s / frame_s),
    )
    out = [dict(w) for w in words]
    for i, w in enumerate(out):
        a, b = round(w["start"] / frame_s), min(n, round(w["end"] / frame_s))
        if b - a < 2:
            continue
        touching = i > 0 and abs(out[i - 1]["end"] - w["start"]) < 1e-6
        pauses = [(a + x, a + y) for x, y in _runs(~loud[a:b]) if (y - x) * frame_s >= min_pause_s and x < (b - a) / 3]
        pauses = [(x, y) for x, y in pauses if level[x:y].mean() <= floor + PAUSE_DEPTH * margin_db]
        if pauses and (b - pauses[-1][1]) * frame_s >= min_word_s:
            p_start, p_end = pauses[-1]
            if touching:
                out[i - 1]["end"] = round(float(max(out[i - 1]["end"], p_start * frame_s)), 3)
            w["start"] = round(float(p_end * frame_s), 3)
            a = int(p_end)
        elif window > 0:
            a = _onset_before(out, i, a, loud, onset_pause, window, word_frames, frame_s)
        idx = np.flatnonzero(loud[a:b])
        if idx.size and (idx[-1] + 1 - idx[0]) * frame_s >= min_word_s:
            w["end"] = round(float(min(w["end"], (a + idx[-1] + 1) * frame_s)), 3)
    return out


def _onset_before(out: list[dict], i: int, a: int, loud, onset_pause: int, window: int, word_frames: int, frame_s):
    """``snap_to_speech``'s late-start rule for word ``i`` starting at frame ``a``: the frame it now
    starts at (moved back to the end of a pause of at least ``onset_pause`` frames that ends within
    ``window`` frames before ``a``), or ``a`` when there is no such pause."""
    import numpy as np

    lowest = max(0, a - window)
    if i > 0:
        lowest = max(lowest, round(out[i - 1]["start"] / frame_s) + word_frames)
    # only the frames that can hold such a pause's end and its first onset_pause frames (a run cut
    # at the window's start is still long enough exactly when the whole run is): linear in the file
    first = max(0, lowest + 1 - onset_pause)
    pauses = [(first + x, first + y) for x, y in _runs(~loud[first : a + 1]) if y - x >= onset_pause]
    if not pauses or not lowest < pauses[-1][1] <= a:
        return a
    p_start, p_end = pauses[-1]
    if p_start == first and first > 0:  # the pause began before the window: find where
        speech = np.flatnonzero(loud[:first])
        p_start = int(speech[-1]) + 1 if speech.size else 0
    if i > 0:
        prev = out[i - 1]
        if loud[round(prev["start"] / frame_s) : p_start].sum() < word_frames:
            return a  # the previous word would be left without speech
        if prev["end"] > p_start * frame_s:
            prev["end"] = round(float(p_start * frame_s), 3)
    out[i]["start"] = round(float(p_end * frame_s), 3)
    return int(p_end)
