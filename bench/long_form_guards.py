"""Benchmark: the long-form guards on and off, on the same 10-minute recording, in one run.

The recording (``evaluation/long_recording.py``): 120 espeak-ng sentences (hr and bs, each once) in eight
speech blocks, each followed by ≈ 25 s of near-silence, chords or tone sweeps. Transcribed by the real
whisper-base through our engine (language hr given) with the guards on (the default: temperature
fallback on compression ratio 2.4 / log-probability -1.0, no-speech 0.6, silero-VAD gated chunks, loops
collapsed) and off (greedy, everything decoded, nothing dropped), on each backend asked for.

Reported per run: WER and CER against what was said; 4-grams said more than 3 times where the reference
says them less often (loops) and the most repeated one; words placed inside the non-speech stretches
(their middle more than 1 s inside); seconds and RTF.

    nice -n 10 .venv/bin/python bench/long_form_guards.py [--backends ct2 transformers] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from whisper_pipeline.evaluation.long_recording import build_long_recording, repeated_ngrams, words_inside
from whisper_pipeline.evaluation.metrics import score
from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.serving.backends.guards import DEFAULT_GUARDS, NO_GUARDS
from whisper_pipeline.serving.engine import TranscriptionEngine


def measure(engine: TranscriptionEngine, model: str, recording, guards) -> dict:
    started = time.time()
    doc = engine.transcribe(model, recording.audio, "hr", guards=guards)
    seconds = time.time() - started
    words = [w for s in doc["segments"] for w in s["words"]]
    loops = repeated_ngrams(doc["text"], recording.reference)
    top = max(loops.items(), key=lambda kv: kv[1][0], default=None)
    scores = score([recording.reference], [doc["text"]])
    return {
        "wer": scores["wer"],
        "cer": scores["cer"],
        "loops": len(loops),
        "top": f"{top[0]!r} ×{top[1][0]}" if top else "-",
        "inside": len(words_inside(words, recording.other)),
        "words": len(words),
        "seconds": seconds,
        "rtf": seconds / recording.duration,
        "text": doc["text"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["ct2", "transformers"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--show-text", action="store_true")
    args = parser.parse_args()
    model = resolve_model_source(BUILTIN_BASE, tempfile.mkdtemp(prefix="bench-base-"))
    recording = build_long_recording(args.seconds)
    print(
        f"recording: {recording.duration:.0f} s, {len(recording.reference.split())} words spoken, "
        f"non-speech {sum(b - a for a, b, _ in recording.other):.0f} s in {len(recording.other)} stretches"
    )
    rows = []
    for backend in args.backends:
        engine = TranscriptionEngine("cpu", backend=backend, cpu_threads=args.threads)
        for name, guards in (("on", DEFAULT_GUARDS), ("off", NO_GUARDS)):
            row = measure(engine, model, recording, guards)
            rows.append((backend, name, row))
            print(f"  {backend} guards {name}: {row['seconds']:.0f} s", flush=True)
            if args.show_text:
                print(row["text"])
    print()
    head = "| backend | guards | WER | CER | looping 4-grams (most repeated) | words in silence/music | words |"
    print(head + " seconds | RTF |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backend, name, r in rows:
        print(
            f"| {backend} | {name} | {r['wer']:.3f} | {r['cer']:.3f} | {r['loops']} ({r['top']}) | {r['inside']} "
            f"| {r['words']} | {r['seconds']:.0f} | {r['rtf']:.3f} |"
        )


if __name__ == "__main__":
    main()
