"""Source audio → 16 kHz mono 16-bit WAV (or FLAC): resampled with soxr, silence trimmed by a
voice-activity detector, optionally loudness-normalized; in parallel, skipping work already done.

Trimming only removes what lies *before the first* and *after the last* stretch of speech that
silero-VAD finds, plus a margin, never pauses inside the utterance, so no word the transcript
needs is cut; if the VAD hears no speech at all, nothing is trimmed and the line is flagged.
Each file is decoded once in this process and streamed (``stream16k``); the VAD runs only near the
edges (``vad_edges``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.audio.in_process import InProcessUnreadable
from whisper_pipeline.audio.loudness import integrated_loudness
from whisper_pipeline.audio.stream16k import SampleStore, blocks_16k, load_16k_ffmpeg
from whisper_pipeline.audio.vad_edges import SpeechEdges, speech_span_samples
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.io import atomic_path
from whisper_pipeline.parallel import ParallelSettings, describe, map_files

DURATION_TOLERANCE_S = 0.05
PREPROCESS_VERSION = 3  # bump when the processing itself changes, so old outputs are redone (3: edge-only VAD)
# Key of the provenance record each output carries in its comment tag (WAV LIST/INFO, FLAC Vorbis comment):
# the file says what it was made from, so a run killed before writing its manifest loses no finished file.
PROVENANCE_TAG = "whisper_pipeline_preprocess"
FORMATS = ("wav", "flac")  # both 16-bit


@dataclass(frozen=True)
class PreprocessOptions:
    """What the processed audio is made with (all of it part of the cache key, ``key()``)."""

    trim_silence: bool = field(default=True, metadata={"help": "Trim leading/trailing non-speech found by silero-VAD"})
    vad_threshold: float = 0.5  # silero-VAD speech probability
    margin_s: float = field(default=0.25, metadata={"help": "Audio kept before the first and after the last speech"})
    # EBU R128 integrated loudness; None leaves levels alone
    loudness_lufs: float | None = field(default=None, metadata={"help": "Normalize loudness to this LUFS (e.g. -23)"})
    format: str = field(default="wav", metadata={"help": "wav or flac (16-bit either way)"})

    def format_problem(self) -> str:
        """Why ``format`` cannot be written ('' when it can)."""
        return "" if self.format in FORMATS else f"format must be 'wav' or 'flac', not {self.format!r}"

    def key(self) -> str:
        """Changes whenever the output would change: part of the incremental cache key."""
        return hashlib.sha256(
            json.dumps({**asdict(self), "v": PREPROCESS_VERSION}, sort_keys=True).encode()
        ).hexdigest()[:16]


@dataclass
class Processed:
    duration: float
    source_duration: float
    trim_start: float = 0.0
    trim_end: float = 0.0
    loudness_lufs: float | None = None
    flags: list[str] = field(default_factory=list)


def speech_span(audio: np.ndarray, threshold: float = 0.5) -> tuple[float, float] | None:
    """(start, end) in seconds from the first to the last speech the VAD hears, or None."""
    span = speech_span_samples(audio, threshold)
    return None if span is None else (span[0] / SAMPLE_RATE, span[1] / SAMPLE_RATE)


def _read_16k(source: str, store: SampleStore, threshold: float | None) -> SpeechEdges | None:
    """Decode ``source`` once into ``store``, the VAD edge scan (when ``threshold``) fed as blocks come; the
    ffmpeg CLI decodes what PyAV cannot read cleanly (its ``AudioError`` names the file and the problem)."""
    edges = SpeechEdges(threshold) if threshold is not None else None
    try:
        for block in blocks_16k(source):
            store.append(block)
            if edges is not None:
                edges.feed(block)
        return edges
    except InProcessUnreadable:
        store.clear()
    edges = SpeechEdges(threshold) if threshold is not None else None
    audio = load_16k_ffmpeg(source)
    for i in range(0, audio.size, 30 * SAMPLE_RATE):
        store.append(audio[i : i + 30 * SAMPLE_RATE])
        if edges is not None:
            edges.feed(audio[i : i + 30 * SAMPLE_RATE])
    return edges


def _loudness_gain(store: SampleStore, lo: int, hi: int, target_lufs: float, result: Processed) -> float | None:
    """The gain bringing samples ``lo:hi`` to ``target_lufs`` without clipping, or None (and a flag) when it
    cannot; measured a block at a time (``audio/loudness.py``: pyloudnorm's numbers)."""
    if hi - lo < int(0.4 * SAMPLE_RATE):  # BS.1770 gating needs at least one 400 ms block
        result.flags.append("too short for loudness normalization")
        return None
    loudness = integrated_loudness(store.blocks(lo, hi), SAMPLE_RATE)
    if not np.isfinite(loudness):
        result.flags.append("silent: loudness not normalized")
        return None
    gain = 10 ** ((target_lufs - loudness) / 20)
    peak = max(float(np.max(np.abs(block))) for block in store.blocks(lo, hi)) * gain
    if peak > 0.989:  # never clip: settle for less loudness (-0.1 dBFS peak)
        gain *= 0.989 / peak
        result.flags.append("loudness limited by peak")
    result.loudness_lufs = round(float(loudness), 1)
    return gain


def process_one(source: str, target: str, options: PreprocessOptions, source_sha256: str = "") -> Processed:
    """Convert one file atomically; returns what was done. With ``source_sha256`` the output records
    (in its comment tag) the source content, the options and what was done, for ``finished_output``.

    The source is decoded once, block by block; the VAD looks only at the edges (``vad_edges``); the
    output is written block by block, so an hour-long file needs no more memory than a short one."""
    with SampleStore(Path(target).parent) as store:
        edges = _read_16k(source, store, options.vad_threshold if options.trim_silence else None)
        result = Processed(duration=0.0, source_duration=round(store.size / SAMPLE_RATE, 3))
        lo, hi = 0, store.size
        if edges is not None and store.size:
            span = edges.span(store.read)
            if span is None:
                result.flags.append("VAD heard no speech: not trimmed")
            else:
                start = max(0.0, span[0] / SAMPLE_RATE - options.margin_s)
                end = min(result.source_duration, span[1] / SAMPLE_RATE + options.margin_s)
                lo, hi = round(start * SAMPLE_RATE), min(store.size, round(end * SAMPLE_RATE))
                result.trim_start, result.trim_end = round(start, 3), round(result.source_duration - end, 3)
        gain = None
        if options.loudness_lufs is not None:
            gain = _loudness_gain(store, lo, hi, options.loudness_lufs, result)
        result.duration = round(max(0, hi - lo) / SAMPLE_RATE, 3)
        with (
            atomic_path(target, suffix=f".{options.format}") as tmp,
            sf.SoundFile(str(tmp), "w", SAMPLE_RATE, 1, subtype="PCM_16", format=options.format.upper()) as out,
        ):
            if source_sha256:
                out.comment = json.dumps(
                    {PROVENANCE_TAG: {"sha256": source_sha256, "key": options.key(), **asdict(result)}}
                )
            for block in store.blocks(lo, hi):
                out.write(np.clip(block if gain is None else (block * gain).astype(np.float32), -1.0, 1.0))
    return result


def finished_output(target: str | Path, source_sha256: str, options: PreprocessOptions) -> Processed | None:
    """What an earlier run (possibly killed before it wrote its manifest) left at ``target``, if that file
    was made from this source content with these options; else None. Outputs are written atomically, so
    a file that exists is complete."""
    try:
        with sf.SoundFile(str(target)) as f:
            record = json.loads(f.comment or "{}")
            frames = f.frames
    except (OSError, RuntimeError, ValueError):  # missing, unreadable or without a readable tag
        return None
    made = record.get(PROVENANCE_TAG) if isinstance(record, dict) else None
    if not isinstance(made, dict) or made.get("sha256") != source_sha256 or made.get("key") != options.key():
        return None
    known = {k: made[k] for k in ("source_duration", "trim_start", "trim_end", "loudness_lufs", "flags") if k in made}
    return Processed(**{**known, "duration": round(frames / SAMPLE_RATE, 3)})


def processed_duration(path: str | Path) -> float:
    return round(sf.info(str(path)).frames / SAMPLE_RATE, 3)


def _process_item(item: tuple[str, str, str], options: PreprocessOptions) -> Processed:
    """``process_one`` for one (source, target, source SHA-256): what ``map_files`` runs in a worker."""
    source, target, source_sha256 = item
    return process_one(source, target, options, source_sha256)


def preprocess_rows(
    rows: list[ManifestLine],
    target_for: Callable[[ManifestLine], Path],
    previous: dict[str, ManifestLine],
    options: PreprocessOptions | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    parallel: ParallelSettings | None = None,
) -> tuple[list[ManifestLine], int, list[str]]:
    """Process every manifest line; returns (processed lines, number processed this time, errors).

    A line is reused when its output exists and was made from the same source content (SHA-256)
    with the same options, so re-runs and resumed runs only do what changed: known from the previous
    manifest line, or, for files finished by a run killed before it wrote the manifest, from the
    record in the file itself. A file that fails is reported (``errors``, naming the file) and left
    out; the others go on.
    """
    options = options or PreprocessOptions()
    key = options.key()
    out: dict[str, ManifestLine] = {}
    todo = []
    for r in rows:
        target = target_for(r).with_suffix(f".{options.format}")
        prev = previous.get(r.id)
        if prev and prev.sha256 == r.sha256 and prev.preprocess_key == key and Path(prev.audio).is_file():
            out[r.id] = prev
        elif (finished := finished_output(target, r.sha256, options)) is not None:
            out[r.id] = _line(r, target, finished, key)
        else:
            todo.append((r, target))
    errors: list[str] = []
    done = len(out)
    if todo:  # in worker processes, or on Ray (``parallel.ray_address``); ``workers`` when no ``parallel``
        outcomes = map_files(
            partial(_process_item, options=options),
            [(r.audio, str(target), r.sha256) for r, target in todo],
            settings=parallel or ParallelSettings(workers=workers or 0),
            progress=(lambda n, _: progress(done + n, len(rows))) if progress else None,
        )
        for (r, target), outcome in zip(todo, outcomes):
            if outcome.error is not None:  # one bad file must not stop the others
                errors.append(f"{r.audio}: {describe(outcome.error)}"[:400])
            else:
                out[r.id] = _line(r, target, outcome.value, key)
    return [out[r.id] for r in rows if r.id in out], len(todo) - len(errors), errors


def _line(row: ManifestLine, target: Path, p: Processed, key: str) -> ManifestLine:
    """The processed manifest line of ``row``."""
    return replace(
        row,
        audio=str(target),
        source_audio=row.audio,
        duration=p.duration,
        manifest_duration=row.duration,
        trim=[p.trim_start, p.trim_end],
        loudness_lufs=p.loudness_lufs,
        preprocess_flags=p.flags,
        preprocess_key=key,
    )


def duration_mismatches(lines: list[ManifestLine]) -> list[str]:
    """Processed files whose length on disk differs from the duration the manifest line states."""
    bad = []
    for line in lines:
        actual = processed_duration(line.audio)
        if abs(actual - line.duration) > DURATION_TOLERANCE_S:
            bad.append(f"{line.audio}: {actual:.3f}s on disk vs {line.duration:.3f}s in the manifest")
    return bad
