"""Benchmark: what ``eval_report``'s degraded conditions add to one language's evaluation.

The demo's per-language evaluation in miniature: real whisper-base scored as ``finetuned`` and as ``base``
(the demo's first run compares those two; no production model yet) on ``--utterances`` espeak-ng test clips by
``--speakers`` voices (the demo's test split: one or two of six speakers, ten sentences each). Timed twice in
the same process, clean only (the baseline, ``conditions: []``) and with the conditions (default: the full
default set), through ``evaluate_models`` exactly as the stage calls it. Prints wall and CPU seconds (CPU
time, this process and ffmpeg, is what to compare on a shared machine), the ratio, and each condition's WER.

    nice -n 10 .venv/bin/python bench/eval_conditions_cost.py                      # ~15 min on 2 busy cores
    .venv/bin/python bench/eval_conditions_cost.py --conditions pink_10db telephone --utterances 4
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from whisper_pipeline.data.manifests import ManifestLine


def make_clips(out: Path, language: str, utterances: int, speakers: int) -> list[ManifestLine]:
    """``utterances`` sample-corpus sentences by ``speakers`` espeak-ng voices, 16 kHz mono WAV."""
    import soundfile as sf

    from whisper_pipeline.sample_data import VARIANTS, sentences, speak

    lines = []
    for i, text in enumerate(sentences(language)[:utterances]):
        voice = VARIANTS[i % speakers]
        raw, wav = out / f"raw{i}.wav", out / f"u{i}.wav"
        speak(text, f"{language}+{voice}", 150, 50, raw)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(wav)], check=True
        )
        lines.append(
            ManifestLine(
                id=f"{language}-{voice}-{i}",
                audio=str(wav),
                transcript=text,
                duration=round(sf.info(str(wav)).duration, 3),
                language=language,
                speaker=voice,
                split="test",
            )
        )
    return lines


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg): robust to a shared machine's load,
    unlike wall time."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> None:
    from whisper_pipeline.evaluation.conditions import DEFAULT_CONDITIONS
    from whisper_pipeline.evaluation.report import evaluate_models
    from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
    from whisper_pipeline.workspace import Workspace

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--language", default="hr")
    ap.add_argument("--utterances", type=int, default=10)
    ap.add_argument("--speakers", type=int, default=2)
    ap.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS))
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--save", type=Path, help="write the evaluation document with the conditions here (JSON)")
    args = ap.parse_args(argv)

    model = resolve_model_source(BUILTIN_BASE, Workspace.at().ensure().base_model_dir)
    models = {"finetuned": model, "base": model}
    with tempfile.TemporaryDirectory(prefix="eval-cost-") as tmp:
        lines = make_clips(Path(tmp), args.language, args.utterances, args.speakers)
        audio_s = sum(l.duration for l in lines)
        runs = {}
        for label, conditions in (
            ("clean only (baseline)", []),
            (f"+ {len(args.conditions)} conditions", args.conditions),
        ):
            started, cpu = time.time(), cpu_seconds()
            doc = evaluate_models(
                models, lines, args.language, args.batch_size, 1, args.device, conditions=conditions, babble_from=lines
            )
            runs[label] = (time.time() - started, cpu_seconds() - cpu, doc)

    (base_s, base_cpu, _), (full_s, full_cpu, doc) = runs.values()
    if args.save:
        from whisper_pipeline.io import write_json

        write_json(args.save, doc)
    print(f"\n{len(lines)} utterances ({audio_s:.1f} s of audio), {args.speakers} speakers, {args.language}, 2 models")
    print(f"{'evaluation':<26} {'wall s':>8} {'CPU s':>8} {'CPU vs baseline':>16}")
    for label, (seconds, cpu, _) in runs.items():
        print(f"{label:<26} {seconds:>8.1f} {cpu:>8.1f} {cpu / base_cpu:>15.2f}x")
    per = (full_cpu - base_cpu) / len(args.conditions)
    print(f"conditions added {full_cpu - base_cpu:.1f} CPU s, {per:.1f} per condition ({per / base_cpu:.2f}x clean)")
    print(f"\n{'condition':<12} {'WER':>7} {'CER':>7}")
    print(f"{'clean':<12} {doc['models']['base']['wer']:>7.3f} {doc['models']['base']['cer']:>7.3f}")
    for name, entry in doc["conditions"].items():
        if "skipped" in entry:
            print(f"{name:<12} skipped: {entry['skipped']}")
        else:
            s = entry["models"]["base"]
            print(f"{name:<12} {s['wer']:>7.3f} {s['cer']:>7.3f}")


if __name__ == "__main__":
    main()
