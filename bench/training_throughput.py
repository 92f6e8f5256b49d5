"""Benchmark: training throughput (samples/s) of our recipe vs a plain ``Seq2SeqTrainer`` run, same model,
batch, precision and steps, in the same process.

Plain = the Hugging Face blog recipe: features and labels precomputed with ``datasets.map`` (handed to
the collator as numpy arrays, so the baseline is not slowed by nested Python lists), the blog's
``DataCollatorSpeechSeq2SeqWithPadding``, ``Seq2SeqTrainer``. Ours = ``train_whisper`` (lazy features,
per-sample language labels, SpecAugment, checkpointing, logging). Real whisper-base weights, real
espeak-ng speech (generated here, or ``--manifest`` of processed audio).

Both sides get one short untimed warm-up run, then ``--repeats`` timed runs each, in alternating order
(plain first, then ours first, ...), so drift in a shared machine's load hits both alike. A run's time
is from the start of training to the end of its last optimizer step (a callback), which leaves out
model loading and the checkpoint ours writes at the end (reported separately).

    .venv/bin/python bench/training_throughput.py --steps 3 --batch 8 --repeats 3   # CPU, ~15 min on 2 cores
    python bench/training_throughput.py --steps 30 --batch 32 --device cuda         # GPU
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

from whisper_pipeline.data.manifests import ManifestLine, read_lines


class StepTimer(TrainerCallback):
    """Seconds from the start of training to the end of the last optimizer step."""

    def __init__(self) -> None:
        self.began = self.last_step_end = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.began = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.last_step_end = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.last_step_end - self.began


def make_rows(tmp: Path, per_language: int) -> list[ManifestLine]:
    from whisper_pipeline.audio.preprocess import PreprocessOptions, process_one
    from whisper_pipeline.sample_data import sentences, speak

    rows = []
    for lang in ("bs", "hr", "sr"):
        for i, text in enumerate(sentences(lang)[:per_language]):
            raw, wav = tmp / f"{lang}{i}.raw.wav", tmp / f"{lang}{i}.wav"
            speak(text, lang, 150, 50, raw)
            process_one(str(raw), str(wav), PreprocessOptions(trim_silence=False))
            rows.append(
                ManifestLine(
                    id=f"{lang}{i}",
                    audio=str(wav),
                    transcript=text,
                    duration=3.0,
                    language=lang,
                    speaker=f"espeak-{lang}",
                    split="train",
                )
            )
    return rows


def plain_dataset(model_dir: str, rows: list[ManifestLine]):
    """The blog's ``datasets.map`` preprocessing, features then read back as numpy arrays;
    returns (dataset, seconds spent)."""
    import soundfile as sf
    from datasets import Dataset
    from transformers import WhisperProcessor

    processor = WhisperProcessor.from_pretrained(model_dir)

    def prepare(row):
        audio, sr = sf.read(row["audio"], dtype="float32")
        row["input_features"] = processor.feature_extractor(audio, sampling_rate=sr).input_features[0]
        processor.tokenizer.set_prefix_tokens(language=row["language"], task="transcribe")
        row["labels"] = processor.tokenizer(row["transcript"]).input_ids
        return row

    t = time.perf_counter()
    columns = ["audio", "transcript", "language", "id", "duration"]
    ds = Dataset.from_list([{c: getattr(r, c) for c in columns} for r in rows]).map(prepare, remove_columns=columns)
    ds = ds.with_format("numpy", columns=["input_features"], output_all_columns=True)
    return ds, time.perf_counter() - t


def plain_trainer(
    model_dir: str,
    ds,
    steps: int,
    batch: int,
    device: str,
    precision: str,
    out: Path,
    workers: int = 0,
) -> float:
    """Seconds of training (``StepTimer``) of the blog recipe on the prepared dataset."""
    from dataclasses import dataclass

    from transformers import (
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    processor = WhisperProcessor.from_pretrained(model_dir)
    model = WhisperForConditionalGeneration.from_pretrained(model_dir)
    model.generation_config.forced_decoder_ids = None

    @dataclass
    class DataCollatorSpeechSeq2SeqWithPadding:  # as in the Hugging Face fine-tuning blog
        processor: object
        decoder_start_token_id: int

        def __call__(self, features):
            batch = self.processor.feature_extractor.pad(
                [{"input_features": f["input_features"]} for f in features],
                return_tensors="pt",
            )
            labels_batch = self.processor.tokenizer.pad(
                [{"input_ids": f["labels"]} for f in features], return_tensors="pt"
            )
            labels = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
            if (labels[:, 0] == self.decoder_start_token_id).all().cpu().item():
                labels = labels[:, 1:]
            batch["labels"] = labels
            return batch

    args = Seq2SeqTrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        max_steps=steps,
        learning_rate=1e-5,
        save_strategy="no",
        report_to=[],
        use_cpu=device == "cpu",
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        logging_steps=steps,
        dataloader_num_workers=workers,
        disable_tqdm=True,
    )
    timer = StepTimer()
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        data_collator=DataCollatorSpeechSeq2SeqWithPadding(processor, model.config.decoder_start_token_id),
        processing_class=processor.feature_extractor,
        callbacks=[timer],
    )
    trainer.train()
    return timer.seconds


def ours_trainer(
    model_dir: str, rows: list[ManifestLine], steps: int, batch: int, device: str, out: Path
) -> tuple[float, float]:
    """(seconds of training by ``StepTimer``, ``train_whisper``'s own wall time, which includes
    the checkpoint it saves at the last step)."""
    from whisper_pipeline.training.settings import TrainSettings
    from whisper_pipeline.training.train import train_whisper

    settings = TrainSettings(
        run_name="bench",
        max_steps=steps,
        batch_size=batch,
        eval_steps=steps,
        predict_with_generate=False,
        logging_steps=steps,
        warmup_ratio=0.0,
    )
    timer = StepTimer()
    summary = train_whisper(model_dir, rows, [], out, settings, device=device, extra_callbacks=[timer])
    return timer.seconds, summary["wall_time_s"]


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--model",
        default="",
        help="transformers dir (default: the builtin whisper-base)",
    )
    ap.add_argument(
        "--manifest",
        default="",
        help="processed manifest (default: generate espeak clips)",
    )
    ap.add_argument("--per-language", type=int, default=10)
    args = ap.parse_args()

    from whisper_pipeline.training.train import pick_precision

    precision = pick_precision("auto", args.device)
    workers = 4 if args.device == "cuda" else 0  # as train_whisper picks by default
    samples = args.steps * args.batch
    rates: dict[str, list[float]] = {"plain": [], "ours": []}
    ours_wall: list[float] = []
    order: list[str] = []
    t0, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model:
            model = args.model
        else:
            from whisper_pipeline.models.source import (
                BUILTIN_BASE,
                resolve_model_source,
            )
            from whisper_pipeline.workspace import Workspace

            ws = Workspace.at().ensure()
            model = resolve_model_source(BUILTIN_BASE, ws.models / "base")
        rows = read_lines(args.manifest) if args.manifest else make_rows(tmp, args.per_language)
        ds, prep_s = plain_dataset(model, rows)

        def run(side: str, name: str, steps: int, timed: bool = True) -> float:
            gc.collect()
            if side == "plain":
                return plain_trainer(
                    model,
                    ds,
                    steps,
                    args.batch,
                    args.device,
                    precision,
                    tmp / name,
                    workers,
                )
            seconds, wall = ours_trainer(model, rows, steps, args.batch, args.device, tmp / name)
            if timed:
                ours_wall.append(wall)
            return seconds

        for side in ("plain", "ours"):  # warm-up: libraries, kernels, page cache
            run(side, f"warm-{side}", 1, timed=False)
        for rep in range(args.repeats):
            sides = ("plain", "ours") if rep % 2 == 0 else ("ours", "plain")
            order.append(" then ".join(sides))
            for side in sides:
                rates[side].append(samples / run(side, f"{side}{rep}", args.steps))
    plain, ours = statistics.median(rates["plain"]), statistics.median(rates["ours"])
    print(
        f"\ntraining throughput, whisper-base, {args.device}, {precision}, batch {args.batch}, "
        f"{args.steps} steps, {len(rows)} clips; {args.repeats} timed runs a side after one "
        f"warm-up each, order alternating ({'; '.join(order)}); "
        f"{time.perf_counter() - t0:.0f} s in all; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, on {len(os.sched_getaffinity(0))} CPUs (a shared machine slows both "
        "sides; the alternation keeps the ratio fair)\n"
    )
    print("| recipe | samples/s median | min–max | each run | vs plain (medians) | note |")
    print("|---|---|---|---|---|---|")
    print(
        f"| plain Seq2SeqTrainer (baseline) | {plain:.3f} | {spread(rates['plain'])} "
        f"| {', '.join(f'{r:.3f}' for r in rates['plain'])} | 1.00 "
        f"| + {prep_s:.1f} s datasets.map before training |"
    )
    print(
        f"| ours (train_whisper) | {ours:.3f} | {spread(rates['ours'])} "
        f"| {', '.join(f'{r:.3f}' for r in rates['ours'])} | {ours / plain:.2f} "
        f"| features computed on the fly; train() incl. the final checkpoint: "
        f"median {statistics.median(ours_wall):.1f} s |"
    )


if __name__ == "__main__":
    main()
