"""Benchmark: training throughput (samples/s) of our recipe vs a plain ``Seq2SeqTrainer`` run, same model,
batch, precision and steps, in the same process.

Plain = the Hugging Face blog recipe: features and labels precomputed with ``datasets.map``, the blog's
``DataCollatorSpeechSeq2SeqWithPadding``, ``Seq2SeqTrainer``. Ours = ``train_whisper`` (lazy features,
per-sample language labels, SpecAugment, checkpointing, logging). Real whisper-base weights, real
espeak-ng speech (generated here, or ``--manifest`` of processed audio).

    .venv/bin/python bench/training_throughput.py --steps 5 --batch 8            # CPU
    python bench/training_throughput.py --steps 30 --batch 32 --device cuda      # GPU
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from whisper_pipeline.io import read_jsonl


def make_rows(tmp: Path, per_language: int) -> list[dict]:
    from whisper_pipeline.audio.preprocess import PreprocessOptions, process_one
    from whisper_pipeline.sample_data import speak, sentences

    rows = []
    for lang in ("bs", "hr", "sr"):
        for i, text in enumerate(sentences(lang)[:per_language]):
            raw, wav = tmp / f"{lang}{i}.raw.wav", tmp / f"{lang}{i}.wav"
            speak(text, lang, 150, 50, raw)
            process_one(str(raw), str(wav), PreprocessOptions(trim_silence=False))
            rows.append({"id": f"{lang}{i}", "audio": str(wav), "transcript": text, "language": lang, "duration": 3.0})
    return rows


def plain_trainer(model_dir: str, rows: list[dict], steps: int, batch: int, device: str, precision: str, out: Path,
                  workers: int = 0) -> tuple[float, float]:
    """(seconds in trainer.train(), seconds in datasets.map preprocessing)."""
    from dataclasses import dataclass

    import soundfile as sf
    from datasets import Dataset
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, WhisperForConditionalGeneration, WhisperProcessor

    processor = WhisperProcessor.from_pretrained(model_dir)
    model = WhisperForConditionalGeneration.from_pretrained(model_dir)
    model.generation_config.forced_decoder_ids = None

    def prepare(row):
        audio, sr = sf.read(row["audio"], dtype="float32")
        row["input_features"] = processor.feature_extractor(audio, sampling_rate=sr).input_features[0]
        processor.tokenizer.set_prefix_tokens(language=row["language"], task="transcribe")
        row["labels"] = processor.tokenizer(row["transcript"]).input_ids
        return row

    t = time.perf_counter()
    ds = Dataset.from_list(rows).map(prepare, remove_columns=["audio", "transcript", "language", "id", "duration"])
    prep = time.perf_counter() - t

    @dataclass
    class DataCollatorSpeechSeq2SeqWithPadding:  # as in the Hugging Face fine-tuning blog
        processor: object
        decoder_start_token_id: int

        def __call__(self, features):
            batch = self.processor.feature_extractor.pad([{"input_features": f["input_features"]} for f in features], return_tensors="pt")
            labels_batch = self.processor.tokenizer.pad([{"input_ids": f["labels"]} for f in features], return_tensors="pt")
            labels = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
            if (labels[:, 0] == self.decoder_start_token_id).all().cpu().item():
                labels = labels[:, 1:]
            batch["labels"] = labels
            return batch

    args = Seq2SeqTrainingArguments(output_dir=str(out), per_device_train_batch_size=batch, max_steps=steps,
                                    learning_rate=1e-5, save_strategy="no", report_to=[], use_cpu=device == "cpu",
                                    fp16=precision == "fp16", bf16=precision == "bf16", logging_steps=steps,
                                    dataloader_num_workers=workers, disable_tqdm=True)
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=ds,
                             data_collator=DataCollatorSpeechSeq2SeqWithPadding(processor, model.config.decoder_start_token_id),
                             processing_class=processor.feature_extractor)
    t = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t, prep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="", help="transformers dir (default: the builtin whisper-base, converted)")
    ap.add_argument("--manifest", default="", help="processed manifest to train on (default: generate espeak clips)")
    ap.add_argument("--per-language", type=int, default=10)
    args = ap.parse_args()

    from whisper_pipeline.training.settings import TrainSettings
    from whisper_pipeline.training.train import pick_precision, train_whisper

    precision = pick_precision("auto", args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model:
            model = args.model
        else:
            from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
            from whisper_pipeline.workspace import Workspace

            model = resolve_model_source(BUILTIN_BASE, Workspace.at().ensure().models / "base")
        rows = read_jsonl(args.manifest) if args.manifest else make_rows(tmp, args.per_language)
        samples = args.steps * args.batch
        if args.device == "cuda":  # CUDA context, kernel selection: paid once, before either timed run
            plain_trainer(model, rows, 3, args.batch, args.device, precision, tmp / "warmup")
        workers = 4 if args.device == "cuda" else 0  # as train_whisper picks by default
        plain_s, prep_s = plain_trainer(model, rows, args.steps, args.batch, args.device, precision, tmp / "plain", workers)
        settings = TrainSettings(run_name="bench", max_steps=args.steps, batch_size=args.batch, eval_steps=args.steps,
                                 predict_with_generate=False, logging_steps=args.steps, warmup_ratio=0.0)
        ours = train_whisper(model, rows, [], tmp / "ours", settings, device=args.device)
    print(f"\ntraining throughput, whisper-base, {args.device}, {precision}, batch {args.batch}, {args.steps} steps, "
          f"{len(rows)} clips\n")
    print("| recipe | train seconds | samples/s | vs plain | note |")
    print("|---|---|---|---|---|")
    print(f"| plain Seq2SeqTrainer (baseline) | {plain_s:.1f} | {samples / plain_s:.2f} | 1.00 | + {prep_s:.1f} s datasets.map before training |")
    ours_s = ours["wall_time_s"]
    print(f"| ours (train_whisper) | {ours_s:.1f} | {samples / ours_s:.2f} | {plain_s / ours_s:.2f} | features computed on the fly; "
          f"includes one checkpoint save |")


if __name__ == "__main__":
    main()
