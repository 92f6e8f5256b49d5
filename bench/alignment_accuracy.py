"""Benchmark: word-boundary error of the aligner (real whisper-base + stable-ts) on espeak-ng speech
with known word boundaries (words synthesised separately, joined with random 0–350 ms pauses),
clean and with white noise at 20 dB and 10 dB SNR; raw stable-ts timestamps (the baseline) vs
after ``snap_to_speech`` (what the pipeline writes).

    .venv/bin/python bench/alignment_accuracy.py --sentences 10
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from whisper_pipeline.alignment.accuracy import boundary_errors, build_clip, summarize
from whisper_pipeline.alignment.align import load_aligner, snap_to_speech
from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.sample_data import sentences
from whisper_pipeline.text.transliterate import has_cyrillic
from whisper_pipeline.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=10, help="per language")
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    model = resolve_model_source(BUILTIN_BASE, Workspace.at().ensure().models / "base")
    aligner = load_aligner(model, args.device)
    table, skipped, audio_s, t0 = [], 0, 0.0, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for condition, snr in (("clean", None), ("noise 20 dB", 20.0), ("noise 10 dB", 10.0)):
            raw, snapped = [], []
            for lang in ("bs", "hr", "sr"):
                latin = [s for s in sentences(lang) if not has_cyrillic(s)][: args.sentences]
                for i, sentence in enumerate(latin):
                    clip = build_clip(sentence, Path(tmp) / f"{lang}{i}.wav", voice=lang, seed=i, noise_snr_db=snr)
                    audio = decode(clip.audio)
                    audio_s += audio.size / 16000
                    result = aligner.align(clip.audio, clip.text, language=lang, verbose=None)
                    words = [w for s in result.to_dict()["segments"] for w in s["words"]]
                    e_raw, e_snap = boundary_errors(clip.words, words), boundary_errors(clip.words, snap_to_speech(words, audio))
                    if e_raw is None:
                        skipped += 1
                        continue
                    raw += e_raw
                    snapped += e_snap
            table.append((condition, summarize(raw), summarize(snapped)))
    seconds = time.perf_counter() - t0
    print(f"\nword-boundary error, whisper-base + stable-ts, {args.sentences} sentences x 3 languages per condition, "
          f"{skipped} clips skipped (word count differed); {audio_s:.0f} s of audio aligned in {seconds:.0f} s\n")
    print("| condition | boundaries | raw mean ms (baseline) | raw p95 ms | snapped mean ms | snapped p95 ms | mean ratio |")
    print("|---|---|---|---|---|---|---|")
    for condition, r, s in table:
        print(f"| {condition} | {r['boundaries']} | {r['mean_ms']} | {r['p95_ms']} | {s['mean_ms']} | {s['p95_ms']} | "
              f"{s['mean_ms'] / r['mean_ms']:.2f} |")


if __name__ == "__main__":
    main()
