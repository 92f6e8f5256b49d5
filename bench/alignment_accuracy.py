"""Benchmark: word-start error of the aligner (real whisper-base + stable-ts) on espeak-ng speech with
known boundaries, raw stable-ts timestamps (the baseline) vs after ``snap_to_speech`` (what the
pipeline writes), on two kinds of speech made from the same sentences:

* digital silence: words synthesised one by one, trimmed, joined with random 0-350 ms of zeros.
  Every boundary is an energy edge next to perfect silence, which is what ``snap_to_speech``
  detects, so part of its gain here is built into the data.
* connected: the sentence synthesised in one go; true word starts are espeak-ng's own word events.
  Split into starts with >= 100 ms of quiet before them (first word, after punctuation) and starts
  inside a phrase, where no silence marks the boundary.

Errors are |predicted start - true start| (ends are unknown in connected speech); the old
start-and-end figure on digital silence is printed too, for comparison with earlier numbers.

    .venv/bin/python bench/alignment_accuracy.py --sentences 6 --keep /tmp/align_keep  # ~15 min a condition, 2 cores

Conditions are the shared degradations (``whisper_pipeline.audio.degrade.CONDITIONS``: pink noise,
babble from other sentences and voices, reverberation, ...), applied to the clean clip after its
truth is taken; ``--noise 20 10`` adds the bench's older white noise (SNR relative to the active
speech).

``--keep DIR`` saves the clips and, in ``DIR/results.jsonl``, each clip's true words and its raw
and snapped aligned words. ``--replay DIR`` re-scores those saved raw alignments with the current
``snap_to_speech`` in seconds, without loading Whisper, and prints the same table plus the snapped
figures as saved (the snapping rule of the run that kept them), so a change to the snapping can be
checked against the rule it replaces; ``--only-sentences 3 4 5`` scores those sentence indices
only (to check a rule on sentences it was not chosen on). Several kept folders replay as one table.
Both modes print the snapping's own cost in ms per minute of audio:

    .venv/bin/python bench/alignment_accuracy.py --replay /tmp/align_keep
    .venv/bin/python bench/alignment_accuracy.py --replay /tmp/align_keep --only-sentences 3 4 5
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import defaultdict
from itertools import product
from pathlib import Path

import numpy as np

from whisper_pipeline.alignment.accuracy import (
    KnownClip,
    babble_speech,
    boundary_errors,
    build_clip,
    build_connected_clip,
    start_errors,
    summarize,
)
from whisper_pipeline.alignment.align import (
    load_aligner,
    result_segments,
    snap_to_speech,
)
from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE, decode
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.sample_data import sentences
from whisper_pipeline.text.transliterate import has_cyrillic
from whisper_pipeline.workspace import Workspace

LANGUAGES = ("bs", "hr", "sr")
CONDITIONS = (
    "clean",
    "pink_20db",
    "pink_10db",
    "pink_5db",
    "babble_10db",
    "babble_5db",
    "reverb_0.3s",
    "reverb_0.8s",
)
ROWS = [  # (key, label)
    ("silence", "digital silence"),
    ("connected", "connected"),
    ("connected/inside", "  inside a phrase (no pause before)"),
    ("connected/after", "  after a pause"),
    ("silence/start+end", "digital silence, starts and ends (old metric)"),
]


def words_of(aligner, clip, language: str) -> tuple[list[dict], list[dict], float, float]:
    """Aligned words raw and snapped (as the pipeline writes them), the clip's seconds and the
    seconds the snapping took."""
    result = aligner.align(clip.audio, clip.text, language=language, verbose=None)
    audio = decode(clip.audio)

    def flat(segments: list[dict]) -> list[dict]:
        return [w for s in segments for w in s["words"]]

    raw = result_segments(result)
    t0 = time.perf_counter()
    snapped = result_segments(result, audio)
    return flat(raw), flat(snapped), audio.size / SAMPLE_RATE, time.perf_counter() - t0


def print_cost(snap_s: float, audio_s: float) -> None:
    if audio_s > 0:
        print(f"\nsnapping cost: {snap_s * 1000 * 60 / audio_s:.0f} ms per minute of audio ({audio_s:.0f} s of audio)")


def score(clip, aligned: list[dict], kind: str) -> dict[str, list[float]]:
    """Signed start errors (s, predicted - true) per table row; absolute start+end errors
    under ``silence/start+end``."""
    signed = start_errors(clip.words, aligned, signed=True) or []
    if kind == "silence":
        return {
            "silence": signed,
            "silence/start+end": boundary_errors(clip.words, aligned) or [],
        }
    rows: dict[str, list[float]] = {
        "connected": signed,
        "connected/inside": [],
        "connected/after": [],
    }
    for word, e in zip(clip.words, signed):
        rows["connected/after" if word["after_pause"] else "connected/inside"].append(e)
    return rows


def print_table(
    conditions: list[str],
    errors: dict[tuple[str, str, str], list[float]],
    saved: bool = False,
) -> None:
    """The markdown table: raw vs snapped per condition and row; with ``saved``, also the snapped
    words as the kept run wrote them (``errors[..., "saved"]``), to compare two snapping rules."""
    saved_head, saved_rule = ("| saved snapped mean / median / p95 ms ", "---|") if saved else ("", "")
    print(
        "| speech | condition | boundaries | raw mean / median / p95 ms (baseline) "
        f"{saved_head}| snapped mean / median / p95 ms | snapped/raw mean "
        "| median signed ms, raw → snapped (+ = late) |"
    )
    print(f"|---|---|---|---|{saved_rule}---|---|---|")
    for condition in conditions:
        for key, label in ROWS:
            raw, snapped = (
                errors[(condition, key, "raw")],
                errors[(condition, key, "snapped")],
            )
            if not raw:
                continue
            r = summarize([abs(e) for e in raw])
            s = summarize([abs(e) for e in snapped])
            ratio = s["mean_ms"] / r["mean_ms"] if r["boundaries"] else float("nan")
            bias = "–"
            if key != "silence/start+end":
                bias = f"{np.median(raw) * 1000:+.0f} → {np.median(snapped) * 1000:+.0f}"
            cell = ""
            if saved:
                k = summarize([abs(e) for e in errors[(condition, key, "saved")]])
                cell = f"| {k['mean_ms']} / {k['median_ms']} / {k['p95_ms']} "
            print(
                f"| {label} | {condition} | {r['boundaries']} "
                f"| {r['mean_ms']} / {r['median_ms']} / {r['p95_ms']} {cell}"
                f"| {s['mean_ms']} / {s['median_ms']} / {s['p95_ms']} | {ratio:.2f} | {bias} |"
            )


def sentence_index(record: dict) -> int:
    """The sentence's index in its language's list: ``sentence`` in records kept since it was
    added, else from the clip's file name (``clean.hr3.connected.wav`` → 3)."""
    if "sentence" in record:
        return int(record["sentence"])
    match = re.search(r"\.[a-z]+(\d+)\.\w+\.wav$", record["audio"])
    if match is None:
        raise ValueError(f"no sentence index in {record['audio']!r}")
    return int(match.group(1))


def replay(folders: list[Path], only: set[int] | None) -> None:
    """Re-score the raw alignments kept by ``--keep`` with the current ``snap_to_speech``."""
    records = []
    for folder in folders:
        # the clip next to results.jsonl, so a moved folder still replays
        records += [{**r, "audio": str(folder / Path(r["audio"]).name)} for r in read_jsonl(folder / "results.jsonl")]
    if only is not None:
        records = [r for r in records if sentence_index(r) in only]
    if not records:
        which = "" if only is None else f" for sentences {sorted(only)}"
        raise SystemExit(f"no kept clips to replay in {', '.join(map(str, folders))}{which}")
    conditions = list(dict.fromkeys(r["condition"] for r in records))
    errors: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    skipped, snap_s, audio_s = 0, 0.0, 0.0
    for record in records:
        truth, raw = record["truth"], record["raw"]
        if start_errors(truth, raw) is None:
            skipped += 1
            continue
        audio = decode(record["audio"])
        t0 = time.perf_counter()
        snapped = snap_to_speech(raw, audio)
        snap_s += time.perf_counter() - t0
        audio_s += audio.size / SAMPLE_RATE
        clip = KnownClip(record["audio"], "", truth)
        sides = (("raw", raw), ("saved", record["snapped"]), ("snapped", snapped))
        for side, aligned in sides:
            for key, values in score(clip, aligned, record["kind"]).items():
                errors[(record["condition"], key, side)] += values
    sentences_used = sorted({sentence_index(r) for r in records})
    print(
        f"\nword-start error replayed from {', '.join(map(str, folders))}: {len(records)} clips (sentences "
        f"{sentences_used} per language), {skipped} skipped (word count differed); raw and "
        "saved snapped words as kept, snapped = the current snap_to_speech\n"
    )
    print_table(conditions, errors, saved=True)
    print_cost(snap_s, audio_s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=5, help="per language")
    ap.add_argument(
        "--conditions",
        nargs="*",
        default=list(CONDITIONS),
        help="degradation conditions (whisper_pipeline.audio.degrade.CONDITIONS, or clean), in this order",
    )
    ap.add_argument("--noise", type=float, nargs="*", default=[], help="also the older white noise at these SNRs (dB)")
    ap.add_argument("--device", default=None)
    ap.add_argument(
        "--keep",
        default="",
        help="keep the clips and write results.jsonl (truth, raw and snapped words) here, "
        "to try boundary corrections without aligning again",
    )
    ap.add_argument(
        "--replay",
        nargs="+",
        default=[],
        metavar="DIR",
        help="no aligning: re-score the raw words kept in DIR (one or more) by --keep with the current "
        "snap_to_speech, next to the snapped words as saved",
    )
    ap.add_argument(
        "--only-sentences",
        type=int,
        nargs="+",
        default=None,
        metavar="I",
        help="with --replay: score only these sentence indices (0-based, per language)",
    )
    args = ap.parse_args()
    if args.replay:
        replay(
            [Path(d) for d in args.replay],
            None if args.only_sentences is None else set(args.only_sentences),
        )
        return
    if args.only_sentences is not None:
        ap.error("--only-sentences needs --replay")
    from whisper_pipeline.audio.degrade import CONDITIONS as KNOWN

    unknown = [c for c in args.conditions if c != "clean" and c not in KNOWN]
    if unknown:
        ap.error(f"unknown conditions {unknown}; known: clean, {', '.join(KNOWN)}")
    model = resolve_model_source(BUILTIN_BASE, Workspace.at().ensure().models / "base")
    aligner = load_aligner(model, args.device)
    # (name, white-noise SNR of the older bench noise, shared degradation)
    conditions = [(c, None, c) for c in args.conditions] + [(f"noise {snr:g} dB", snr, "clean") for snr in args.noise]
    pool = babble_speech() if any(c.startswith("babble") for c in args.conditions) else None
    builders = {"silence": build_clip, "connected": build_connected_clip}
    # errors[(condition, row key, "raw" | "snapped")] -> seconds
    errors: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    skipped, audio_s, snap_s, t0 = 0, 0.0, 0.0, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        kept = []
        for (condition, snr, degradation), lang, kind in product(conditions, LANGUAGES, builders):
            latin = [s for s in sentences(lang) if not has_cyrillic(s)]
            for i, sentence in enumerate(latin[: args.sentences]):
                wav = out / f"{condition.replace(' ', '')}.{lang}{i}.{kind}.wav"
                clip = builders[kind](
                    sentence, wav, voice=lang, seed=i, noise_snr_db=snr, condition=degradation, babble_pool=pool
                )
                raw, snapped, seconds, snapping = words_of(aligner, clip, lang)
                audio_s, snap_s = audio_s + seconds, snap_s + snapping
                kept.append(
                    {
                        "condition": condition,
                        "kind": kind,
                        "language": lang,
                        "sentence": i,
                        "audio": clip.audio,
                        "truth": clip.words,
                        "raw": raw,
                        "snapped": snapped,
                    }
                )
                if args.keep:  # after every clip, so an interrupted run can still be replayed
                    write_jsonl(out / "results.jsonl", kept)
                if start_errors(clip.words, raw) is None:
                    skipped += 1
                    continue
                for side, aligned in (("raw", raw), ("snapped", snapped)):
                    for key, values in score(clip, aligned, kind).items():
                        errors[(condition, key, side)] += values
    seconds = time.perf_counter() - t0
    print(
        f"\nword-start error, whisper-base + stable-ts, {args.sentences} sentences x "
        f"{len(LANGUAGES)} languages per condition and kind of speech, {skipped} clips "
        f"skipped (word count differed); {audio_s:.0f} s of audio aligned in {seconds:.0f} s\n"
    )
    print_table([condition for condition, _, _ in conditions], errors)
    print_cost(snap_s, audio_s)


if __name__ == "__main__":
    main()
