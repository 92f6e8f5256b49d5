"""Benchmark: can the loader keep the GPU busy, and how fast does training run — ours vs the plain recipe.

Two parts, in the same run:

* ``data`` (always; on a CPU-only machine the only part): the data path alone, no model. "plain" = features in
  the loader: each worker reads a clip and runs ``WhisperFeatureExtractor`` on it (what the Hugging Face recipe's
  ``datasets.map`` does per sample, and what ``train_whisper`` does with ``feature_device: loader``). "ours" =
  ``feature_device: device``: the worker reads the clip, the collator pads it to 30 s, the log-mel runs later on
  the GPU in one batched STFT (``training/features.py``). Samples/s per core is measured from the process's CPU
  time with one torch thread (a loader worker's setting), so other load on a shared machine does not skew it;
  × the preset's worker count is what the workers can feed (one core each), compared with the step rate a GPU
  reached. A real ``DataLoader`` with that many workers is also timed on this machine (wall clock, bounded by its
  cores and its load).
* ``train`` (on a GPU, or ``--parts train`` on CPU): ``train_whisper`` (ours: on-device features, SDPA, fused
  AdamW, bf16 where the GPU has it) vs the plain recipe (``datasets.map``-precomputed features, the blog's
  collator, a stock ``Seq2SeqTrainer``), same random-init model (``WhisperConfig`` proportions of whisper-base or
  -small: throughput does not depend on the weights' values), batch, precision and steps. One untimed warm-up run
  a side, then ``--repeats`` timed runs in alternating order. Reported: samples/s, GPU utilisation (NVML, sampled
  during the timed steps), and an MFU estimate (model FLOPs of a training step / elapsed time / the GPU's dense
  bf16 peak).

    # CPU: the data path (the README's table, ~1 min)
    nice -n 10 .venv/bin/python bench/training_throughput.py --per-language 10 --sentences-per-clip 4 \
        --batch 16 --batches 10 --repeats 5 --workers 4
    # GPU: both parts, random-init whisper-base and -small, 16 CPU cores (bench/gpu_check.sh runs it on a lent GPU
    # from the clips and tokenizer bench/gpu_kit.py packs: no espeak-ng, model package or network needed there)
    python bench/training_throughput.py --parts data,train --models base,small --batch 32 --steps 30

The train part feeds each timed run full batches from one pass over the clips (repeated as needed), so every step
counts ``--batch`` samples and no loader restarts inside the timed steps. The plain recipe's ``datasets.map`` (the
features computed once, before training) is timed and reported beside its step rate: per step it only moves
precomputed features, so its steady-state rate leaves that work out; "one epoch, map included" puts it back
(samples of the epoch / (map + steps)), which is what a fine-tune that sees its data once or twice pays. Each run's
folder is deleted as soon as it is measured (whisper-small's checkpoint alone is ~3 GB).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from transformers import TrainerCallback

from whisper_pipeline.data.manifests import ManifestLine, read_lines

GPU_STEP_RATE = 71.6  # samples/s, whisper-base bf16 batch 16 on an H200 through train_whisper (issue 16, 2026-11-26)
PRESET_WORKERS = 4  # TrainSettings.dataloader_workers -1 on a GPU (train.py), the 24 GB presets' count
PEAK_BF16_TFLOPS = {  # dense, no sparsity; first match on the device name wins
    "H200": 989.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
    "4090": 165.0,
    "3090": 71.0,
}


class StepTimer(TrainerCallback):
    """Seconds from the end of the first optimizer step to the end of the last, and the steps between: the steady
    state, without the loader workers' start, the first batch and first-call kernel set-up (or compilation), which
    a short run would otherwise mostly measure. GPU utilisation is sampled over the same span."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.sampler: UtilSampler | None = None

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())
        if len(self.ends) == 1:
            self.sampler = UtilSampler().start()

    def on_train_end(self, args, state, control, **kwargs):
        if self.sampler:
            self.sampler.stop()

    @property
    def steps(self) -> int:
        return len(self.ends) - 1

    @property
    def seconds(self) -> float:
        return self.ends[-1] - self.ends[0]


class UtilSampler:
    """GPU 0's utilisation every 0.2 s via NVML (pynvml), else ``nvidia-smi``; nothing without a GPU."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._read = self._reader()

    @staticmethod
    def _reader():
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # noqa: BLE001 - no pynvml or no GPU
            pass
        import shutil

        if shutil.which("nvidia-smi"):
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"]
            return lambda: float(subprocess.run(query, capture_output=True, text=True, check=True).stdout.split()[0])
        return None

    def start(self) -> UtilSampler:
        if self._read is not None:
            threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.samples.append(self._read())
            except Exception:  # noqa: BLE001 - a failed read is a missing sample, not a failed bench
                pass

    def stop(self) -> None:
        self._stop.set()

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.samples) if self.samples else None


# --- data -------------------------------------------------------------------------------------------------------


def make_rows(tmp: Path, per_language: int, sentences_per_clip: int) -> list[ManifestLine]:
    """Real espeak-ng speech, processed to 16 kHz like ``processed_audio``; a few sentences a clip (~5–15 s)."""
    import soundfile as sf

    from whisper_pipeline.audio.preprocess import PreprocessOptions, process_one
    from whisper_pipeline.sample_data import sentences, speak

    rows = []
    for lang in ("bs", "hr", "sr"):
        texts = sentences(lang)
        for i in range(per_language):
            text = " ".join(texts[(i * sentences_per_clip + k) % len(texts)] for k in range(sentences_per_clip))
            raw, wav = tmp / f"{lang}{i}.raw.wav", tmp / f"{lang}{i}.wav"
            speak(text, lang, 150, 50, raw)
            process_one(str(raw), str(wav), PreprocessOptions(trim_silence=False))
            rows.append(
                ManifestLine(
                    id=f"{lang}{i}",
                    audio=str(wav),
                    transcript=text,
                    duration=round(sf.info(str(wav)).duration, 2),
                    language=lang,
                    speaker=f"espeak-{lang}",
                    split="train",
                )
            )
    return rows


def read_manifest(path: str) -> list[ManifestLine]:
    """A processed manifest; audio paths relative to the manifest's folder are resolved (a packed kit travels)."""
    from dataclasses import replace

    base = Path(path).resolve().parent
    return [replace(r, audio=str(base / r.audio)) if not Path(r.audio).is_absolute() else r for r in read_lines(path)]


def full_epoch(rows: list[ManifestLine], samples: int) -> list[ManifestLine]:
    """At least ``samples`` rows (the clips repeated, ids made unique), so one pass gives every step a full batch."""
    from dataclasses import replace

    copies = -(-samples // len(rows))
    return [replace(r, id=f"{r.id}~{k}") if k else r for k in range(copies) for r in rows]


def tokenizer_json(args) -> Path:
    """``--tokenizer``, else the whisper-base package's (the real multilingual tokenizer)."""
    from whisper_pipeline.models.random_init import packaged_tokenizer

    return Path(args.tokenizer) if args.tokenizer else packaged_tokenizer()


def data_pass(rows, processor, features: str, batch: int, batches: int, workers: int = 0) -> tuple[int, float, float]:
    """(samples, CPU seconds of this process, wall seconds) for ``batches`` batches through the training loader path
    (with worker processes: the batches after the first, which waits for them to start)."""
    import torch
    from torch.utils.data import DataLoader

    from whisper_pipeline.training.data import SpeechSeq2SeqCollator, make_dataset

    ds, _ = make_dataset(rows, processor, 448, None, features)
    collate = SpeechSeq2SeqCollator(processor.tokenizer.pad_token_id, 50258, processor.feature_extractor.n_samples)
    indices = [i % len(ds) for i in range(batch * batches)]
    loader = DataLoader(torch.utils.data.Subset(ds, indices), batch_size=batch, collate_fn=collate, num_workers=workers)
    batches_ = iter(loader)
    if workers:  # the clock starts once the workers are up and the first batch is in
        next(batches_)
    cpu, wall = time.process_time(), time.perf_counter()
    n = sum(len(b["labels"]) for b in batches_)
    return n, time.process_time() - cpu, time.perf_counter() - wall


def log_mel_rate(processor, batch: int, repeats: int) -> float:
    """Samples/s per core of the batched torch log-mel on this CPU (on a GPU this is the step's extra work)."""
    import torch

    from whisper_pipeline.training.features import LogMel

    log_mel = LogMel.from_feature_extractor(processor.feature_extractor)
    audio = torch.randn(batch, processor.feature_extractor.n_samples) * 0.1
    log_mel(audio)
    cpu = time.process_time()
    for _ in range(repeats):
        log_mel(audio)
    return batch * repeats / (time.process_time() - cpu)


def data_part(rows, args, gpu_rate: tuple[float, str]) -> None:
    """``gpu_rate``: (samples/s, where it was measured) of ours' training steps, the rate the workers must feed."""
    import torch

    from whisper_pipeline.models.ct2_to_hf import build_processor

    processor = build_processor(tokenizer_json(args), 80)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a DataLoader worker runs with
    sides = {"plain": "loader", "ours": "device"}
    per_core: dict[str, list[float]] = {s: [] for s in sides}
    order = []
    for features in sides.values():  # warm-up: imports, page cache, kernels
        data_pass(rows, processor, features, args.batch, 1)
    for rep in range(args.repeats):
        names = list(sides) if rep % 2 == 0 else list(reversed(sides))
        order.append(" then ".join(names))
        for side in names:
            n, cpu, _ = data_pass(rows, processor, sides[side], args.batch, args.batches)
            per_core[side].append(n / cpu)
    mel = log_mel_rate(processor, args.batch, 3)
    torch.set_num_threads(threads)
    loaded: dict[str, float] = {}
    for side, features in sides.items():  # real worker processes, wall clock, on this machine
        n, _, wall = data_pass(rows, processor, features, args.batch, 2 * args.batches + 1, workers=args.workers)
        loaded[side] = n / wall
    plain, ours = statistics.median(per_core["plain"]), statistics.median(per_core["ours"])
    seconds = [r.duration for r in rows]
    print(
        f"\ndata path alone (no model): {len(rows)} espeak-ng clips of {min(seconds):.1f}–{max(seconds):.1f} s, "
        f"batch {args.batch}, {args.batches} batches a run, {args.repeats} runs a side after a warm-up, order "
        f"alternating ({'; '.join(order)}); per core = samples / CPU seconds with one torch thread\n"
    )
    rate_gpu, rate_source = gpu_rate
    print(
        f"| loader | samples/s per core (median) | min–max | × {args.workers} workers (one core each) "
        f"| vs GPU step rate {rate_gpu:.1f} | measured here, {args.workers} workers, wall | vs plain (per core) |"
    )
    print("|---|---|---|---|---|---|---|")
    for side, label in (
        ("plain", "plain: WhisperFeatureExtractor in the loader"),
        ("ours", "ours: audio only, log-mel on the device"),
    ):
        rate = statistics.median(per_core[side])
        print(
            f"| {label} | {rate:.1f} | {spread(per_core[side])} | {rate * args.workers:.0f} "
            f"| {rate * args.workers / rate_gpu:.2f}× | {loaded[side]:.1f} | {rate / plain:.2f} |"
        )
    print(
        f"\nours' log-mel, batched torch on this CPU (the work that moves to the GPU): {mel:.0f} samples/s per core. "
        f"The GPU step rate {rate_gpu:.1f} samples/s: {rate_source}. "
        f"Ours feeds {ours * args.workers:.0f} samples/s with {args.workers} workers "
        f"({'above' if ours * args.workers > rate_gpu else 'BELOW'} it); plain {plain * args.workers:.0f}."
    )


# --- train ------------------------------------------------------------------------------------------------------


def plain_dataset(model_dir: str, rows: list[ManifestLine], procs: int):
    """The blog's ``datasets.map`` preprocessing (``num_proc`` processes, as the blog runs it), features then read
    back as numpy arrays; returns (dataset, seconds spent)."""
    import soundfile as sf
    from datasets import Dataset
    from transformers import WhisperProcessor

    processor = WhisperProcessor.from_pretrained(model_dir)

    def prepare(row):
        import torch

        torch.set_num_threads(1)  # one core a map process, as a loader worker (the extractor runs torch's STFT)
        audio, sr = sf.read(row["audio"], dtype="float32")
        row["input_features"] = processor.feature_extractor(audio, sampling_rate=sr).input_features[0]
        processor.tokenizer.set_prefix_tokens(language=row["language"], task="transcribe")
        row["labels"] = processor.tokenizer(row["transcript"]).input_ids
        return row

    t = time.perf_counter()
    columns = ["audio", "transcript", "language", "id", "duration"]
    ds = Dataset.from_list([{c: getattr(r, c) for c in columns} for r in rows]).map(
        prepare, remove_columns=columns, num_proc=procs if procs > 1 else None
    )
    ds = ds.with_format("numpy", columns=["input_features"], output_all_columns=True)
    return ds, time.perf_counter() - t


def plain_trainer(
    model_dir: str, ds, steps: int, batch: int, device: str, precision: str, out: Path, workers: int = 0
) -> StepTimer:
    """The blog recipe on the prepared dataset; its ``StepTimer``."""
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
    return timer


def ours_trainer(
    model_dir: str,
    rows: list[ManifestLine],
    steps: int,
    batch: int,
    device: str,
    out: Path,
    compile_: bool,
    workers: int,
) -> StepTimer:
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
        save_total_limit=1,
        torch_compile=compile_,
        ct2_export=False,
        dataloader_workers=workers,
    )
    timer = StepTimer()
    train_whisper(model_dir, rows, [], out, settings, device=device, extra_callbacks=[timer])
    return timer


def train_flops_per_sample(model_dir: str, label_tokens: float) -> float:
    """Forward + backward FLOPs of one sample: 6 × parameters × positions they act on, plus attention scores."""
    from transformers import WhisperConfig

    c = WhisperConfig.from_pretrained(model_dir)
    d, enc_t = c.d_model, c.max_source_positions
    layer = 4 * d * d + 2 * d * c.encoder_ffn_dim  # attention projections + MLP
    dec_layer = 8 * d * d + 2 * d * c.decoder_ffn_dim  # self + cross attention projections + MLP
    conv = 2 * (c.num_mel_bins * d * 3) * 2 + 2 * (d * d * 3)  # conv1 over 3000 frames (×2 positions), conv2 over 1500
    forward = 2 * (c.encoder_layers * layer * enc_t + conv * enc_t)
    forward += 2 * (c.decoder_layers * dec_layer * label_tokens + c.vocab_size * d * label_tokens)
    forward += 4 * d * (c.encoder_layers * enc_t * enc_t + c.decoder_layers * label_tokens * (label_tokens + enc_t))
    return 3 * forward


def peak_flops(override: float) -> float | None:
    import torch

    if override > 0:
        return override * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((tf * 1e12 for key, tf in PEAK_BF16_TFLOPS.items() if key in name), None)


def train_part(clips, size: str, tmp: Path, args) -> float:
    """Print the table for one model size; return ours' median samples/s."""
    import shutil

    from whisper_pipeline.device import on_gpu, training_device
    from whisper_pipeline.models.ct2_to_hf import build_processor
    from whisper_pipeline.models.random_init import save_random_whisper
    from whisper_pipeline.training.train import pick_precision

    device = training_device(args.device)
    workers = args.loader_workers if args.loader_workers >= 0 else PRESET_WORKERS if on_gpu(device) else 0
    rows = full_epoch(clips, args.batch * (args.steps + 1))
    processor_dir = tmp / f"processor-{size}"
    build_processor(tokenizer_json(args), 80).save_pretrained(processor_dir)
    # the map's processes fork before this process starts CUDA or torch's threads (both unsafe across a fork)
    ds, prep_s = plain_dataset(str(processor_dir), rows, workers)
    model_dir = save_random_whisper(tmp / f"model-{size}", size, tokenizer_json(args))
    precision = pick_precision("auto", device)
    labels = statistics.mean(len(x) - 1 for x in ds["labels"])
    flops = train_flops_per_sample(model_dir, labels)
    peak = peak_flops(args.peak_tflops)
    rates: dict[str, list[float]] = {"plain": [], "ours": []}
    utils: dict[str, list[float]] = {"plain": [], "ours": []}
    order = []

    def run(side: str, name: str, steps: int) -> StepTimer:
        gc.collect()
        try:
            if side == "plain":
                return plain_trainer(model_dir, ds, steps, args.batch, device, precision, tmp / name, workers)
            return ours_trainer(model_dir, rows, steps, args.batch, device, tmp / name, args.compile, workers)
        finally:
            shutil.rmtree(tmp / name, ignore_errors=True)

    for side in ("plain", "ours"):
        run(side, f"warm-{size}-{side}", max(3, args.steps // 5))
    for rep in range(args.repeats):
        sides = ("plain", "ours") if rep % 2 == 0 else ("ours", "plain")
        order.append(" then ".join(sides))
        for side in sides:
            timer = run(side, f"{size}-{side}{rep}", args.steps)
            rates[side].append(timer.steps * args.batch / timer.seconds)
            if timer.sampler and timer.sampler.mean is not None:
                utils[side].append(timer.sampler.mean)
    plain = statistics.median(rates["plain"])
    epoch = len(rows)  # samples of one pass, as the plain recipe prepared them
    plain_epoch = epoch / (prep_s + epoch / plain)
    print(
        f"\ntraining, random-init whisper-{size} proportions, {device}, {precision}, batch {args.batch}, "
        f"{args.steps} steps (timed: the ones after the first), {len(clips)} clips repeated to {epoch} samples, "
        f"{workers} loader workers; "
        f"{args.repeats} timed runs a side after one warm-up each, order alternating ({'; '.join(order)}); "
        f"{flops / 1e12:.3f} TFLOP a sample (~{labels:.0f} label tokens); "
        f"peak {f'{peak / 1e12:.0f} TFLOPS bf16' if peak else 'unknown: no MFU'}\n"
    )
    print(
        "| recipe | samples/s median (steps) | min–max | GPU util % (mean) | MFU | vs plain (steps) "
        f"| one epoch of {epoch}, map included: samples/s | vs plain (epoch) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for side, label in (
        ("plain", f"plain Seq2SeqTrainer (datasets.map {prep_s:.1f} s, {max(workers, 1)} processes)"),
        ("ours", "ours (train_whisper" + (", torch.compile)" if args.compile else ")")),
    ):
        rate = statistics.median(rates[side])
        util = f"{statistics.mean(utils[side]):.0f}" if utils[side] else "n/a"
        mfu = f"{rate * flops / peak:.1%}" if peak else "n/a"
        per_epoch = plain_epoch if side == "plain" else rate
        print(
            f"| {label} | {rate:.2f} | {spread(rates[side])} | {util} | {mfu} | {rate / plain:.2f} "
            f"| {per_epoch:.2f} | {per_epoch / plain_epoch:.2f} |"
        )
    return statistics.median(rates["ours"])


def spread(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}"


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    gpu = torch.cuda.is_available()
    ap.add_argument("--parts", default="data,train" if gpu else "data", help="data, train or both")
    ap.add_argument("--device", default="cuda" if gpu else "cpu")
    ap.add_argument("--models", default="base,small", help="train part: tiny, base, small (random-init)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=6, help="data part: batches a timed run")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    ap.add_argument("--workers", type=int, default=PRESET_WORKERS, help="data part: loader workers (the preset's)")
    ap.add_argument(
        "--loader-workers",
        type=int,
        default=-1,
        help="train part: loader workers and map processes, both recipes "
        f"(default: {PRESET_WORKERS} on a GPU, as train_whisper picks; 0 on CPU)",
    )
    ap.add_argument("--compile", action="store_true", help="train part: ours with torch_compile")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="the GPU's dense bf16 peak, if not in the table")
    ap.add_argument(
        "--manifest", default="", help="processed manifest, audio paths absolute or relative to it (default: espeak)"
    )
    ap.add_argument("--tokenizer", default="", help="tokenizer.json (default: the whisper-base package's)")
    ap.add_argument("--per-language", type=int, default=6)
    ap.add_argument("--sentences-per-clip", type=int, default=3)
    args = ap.parse_args()

    parts = set(args.parts.split(","))
    t0, load_before = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = (
            read_manifest(args.manifest)
            if args.manifest
            else make_rows(tmp, args.per_language, args.sentences_per_clip)
        )
        gpu_rate = (GPU_STEP_RATE, "whisper-base, bf16, batch 16, H200, issue 16 (2026-11-26), not this run")
        if "train" in parts:  # first: the data part then compares with this run's own step rate
            for size in args.models.split(","):
                rate = train_part(rows, size, tmp, args)
                if size == "base" and args.device != "cpu":
                    gpu_rate = (rate, f"ours, whisper-base, batch {args.batch}, {args.device}, this run")
        if "data" in parts:
            data_part(rows, args, gpu_rate)
    print(
        f"\n{time.perf_counter() - t0:.0f} s in all; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in load_before)} before, {'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, "
        f"on {len(os.sched_getaffinity(0))} CPUs"
        + ("" if gpu else "; no GPU in this session: GPU figures (train part) were not measured")
    )


if __name__ == "__main__":
    main()
