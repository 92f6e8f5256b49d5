"""PLANNING.md: GPU-hours, CPU-hours, storage and wall time for 10 / 100 / 1,000 / 3,000 hours of audio and
three model sizes, computed from the measured figures in ``bench/measured.yaml`` and the training presets in
``configs/train/``, so a new measurement or a changed preset updates the plan with one command::

    python -m whisper_pipeline.planning --write      # or: make planning
    python -m whisper_pipeline.planning              # print it

Why a script and not a hand-written table: the plan must say which figures were measured and which were
extrapolated, and stay in step with the measurements (``whisper_pipeline_tests/test_planning.py`` fails when
PLANNING.md is stale).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from whisper_pipeline.alignment.segment import MAX_SEGMENT_S
from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.data.splits import SplitPolicy
from whisper_pipeline.evaluation.report import EvalSettings
from whisper_pipeline.training.disk import ADAMW_BYTES, CT2_BYTES, WEIGHT_BYTES, checkpoint_bytes
from whisper_pipeline.training.settings import TrainSettings

REPO = Path(__file__).resolve().parent.parent
MEASURED_FILE = REPO / "bench" / "measured.yaml"
PLANNING_FILE = REPO / "PLANNING.md"
COMMAND = "make planning"  # = python -m whisper_pipeline.planning --write

HOURS = (10, 100, 1000, 3000)
# The preset each model is planned with. whisper-large-v3-turbo has no preset of its own: the large-v3 preset's
# settings with base_model.source openai/whisper-large-v3-turbo.
PRESETS = {
    "whisper-base": "base.yaml",
    "whisper-small": "small-gpu.yaml",
    "whisper-large-v3-turbo": "large-v3-gpu.yaml",
}
BASE = "whisper-base"
GPU_LOADER_WORKERS = 4  # training/train.py: dataloader_workers -1 (auto) means 4 on a GPU
PCM_BYTES = 2  # processed audio: 16-bit mono at SAMPLE_RATE (audio/preprocess.py)
# Training samples are utterances of at most MAX_SEGMENT_S; long recordings are cut at a sentence end in the last
# third of that window (alignment/segment.py), so a segment averages about 5/6 of it.
MEAN_SAMPLE_S = MAX_SEGMENT_S * 5 / 6


def load_measured(path: Path = MEASURED_FILE) -> dict:
    """The measured figures, model sizes and assumptions (``bench/measured.yaml``)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def preset_settings(model: str) -> TrainSettings:
    """TrainSettings as the model's preset sets them (defaults for what it leaves out)."""
    doc = yaml.safe_load((REPO / "configs" / "train" / PRESETS[model]).read_text(encoding="utf-8"))
    return TrainSettings.from_dict(doc["ops"]["checkpoint"]["config"])


def x_real_time(figure: dict) -> float:
    """A speed figure as seconds of audio per second of work."""
    return 1 / figure["value"] if figure["unit"] == "RTF" else figure["value"]


@dataclass
class Rates:
    """Per-model speeds on the GPU, each with how it was obtained ("measured" or the extrapolation)."""

    train_samples_s: float
    train_how: str
    align_x: float  # alignment with whisper-base (the data stages' default base model), × real time
    align_how: str
    decode_x: float  # greedy decoding with this model, × real time
    decode_how: str


def rates(model: str, data: dict) -> Rates:
    """GPU speeds for ``model``. Rules (used only where no measured figure exists):
    per-sample training cost scales with parameter count (whisper-base's measured rate × params ratio), capped
    by what the loader workers can feed; alignment and decoding on a GPU are the measured CPU speed × the
    GPU/CPU speed-up measured for whisper-base training, then scaled by parameter count like training."""
    m, params = data["measured"], data["models"]
    ratio = params[BASE]["params_m"] / params[model]["params_m"]
    cap = GPU_LOADER_WORKERS * m["audio_loader_per_core"]["value"]  # features on the GPU (feature_device auto)
    own = m.get(f"gpu_train_{model}")
    if own:
        train, train_how = own["value"], "measured"
    else:
        train = min(m["gpu_train_base"]["value"] * ratio, cap)
        train_how = "measured" if model == BASE else f"extrapolated: base × {ratio:.3f} (params)"
    speedup = m["gpu_train_base"]["value"] / m["cpu_train_base"]["value"]
    if "gpu_align_base" in m:
        align, align_how = x_real_time(m["gpu_align_base"]), "measured"
    else:
        align, align_how = x_real_time(m["align_cpu_base"]) * speedup, f"extrapolated: CPU × {speedup:.0f}"
    if "gpu_decode_base" in m:
        decode, decode_how = x_real_time(m["gpu_decode_base"]) * ratio, "measured" if model == BASE else "params"
    else:
        decode = x_real_time(m["decode_cpu_base"]) * speedup * ratio
        decode_how = f"extrapolated: CPU × {speedup:.0f}" + ("" if model == BASE else f" × {ratio:.3f}")
    return Rates(train, train_how, align, align_how, decode, decode_how)


@dataclass
class Estimate:
    """One scenario: ``hours`` of usable audio, one model trained with its preset."""

    hours: float
    model: str
    train_samples: int
    steps: int
    evaluations: int
    train_gpu_h: float
    validation_gpu_h: float
    align_gpu_h: float
    eval_gpu_h: float
    cpu_core_h: float
    cpu_wall_h: float
    raw_gb: float
    processed_gb: float
    checkpoints_gb: float
    model_gb: float

    @property
    def gpu_h(self) -> float:
        return self.train_gpu_h + self.validation_gpu_h + self.align_gpu_h + self.eval_gpu_h

    @property
    def storage_gb(self) -> float:
        # segments cut from long recordings are a second copy of (at most) the processed audio
        return self.raw_gb + 2 * self.processed_gb + self.checkpoints_gb + self.model_gb

    @property
    def wall_h(self) -> float:
        """The stages run one after another; GPU steps share one GPU (the ``gpu`` pool, limit 1)."""
        return self.cpu_wall_h + self.gpu_h


def estimate(hours: float, model: str, data: dict) -> Estimate:
    """Resources for ``hours`` of usable audio and ``model`` (see the module docstring and PLANNING.md)."""
    s, split, ev = preset_settings(model), SplitPolicy(), EvalSettings()
    r = rates(model, data)
    params = data["models"][model]["params_m"] * 1e6
    train_h = hours * (1 - split.validation_ratio - split.test_ratio)
    samples = math.ceil(train_h * 3600 / MEAN_SAMPLE_S)
    per_epoch = math.ceil(samples / (s.batch_size * s.gradient_accumulation_steps * s.num_processes))
    steps = s.max_steps if s.max_steps > 0 else math.ceil(per_epoch * s.epochs)
    every = s.eval_steps if s.eval_steps > 0 else max(1, min(per_epoch, steps))
    # the trainer evaluates every `every` steps and once more at the last step (transformers' DefaultFlowCallback)
    evaluations = math.ceil(steps / every) if s.predict_with_generate else 0
    compared = 1 + int(ev.compare_base) + int(ev.compare_production)  # fine-tuned, base, production
    m, a = data["measured"], data["assumptions"]
    core_h = hours / m["intake_per_core"]["value"] + hours / m["preprocess_per_core"]["value"]
    gb = 1e9
    return Estimate(
        hours=hours,
        model=model,
        train_samples=samples,
        steps=steps,
        evaluations=evaluations,
        train_gpu_h=samples * s.epochs / r.train_samples_s / 3600,
        validation_gpu_h=evaluations * hours * split.validation_ratio / r.decode_x,
        align_gpu_h=hours / r.align_x,
        eval_gpu_h=compared * hours * split.test_ratio / r.decode_x,
        cpu_core_h=core_h,
        cpu_wall_h=core_h / a["cpu_cores"]["value"],
        raw_gb=hours * 3600 * a["raw_kbps"]["value"] * 1000 / 8 / gb,
        processed_gb=hours * 3600 * SAMPLE_RATE * PCM_BYTES / gb,
        checkpoints_gb=(s.save_total_limit + 1) * checkpoint_bytes(params) / gb,
        model_gb=params * (WEIGHT_BYTES + (CT2_BYTES if s.ct2_export else 0)) / gb,
    )


def _n(x: float) -> str:
    """Three significant figures at most, thousands separated."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def render(data: dict | None = None) -> str:
    """PLANNING.md's text."""
    data = data or load_measured()
    m, models, a = data["measured"], data["models"], data["assumptions"]
    split, ev = SplitPolicy(), EvalSettings()
    est = {(h, model): estimate(h, model, data) for h in HOURS for model in PRESETS}
    out = [
        "# PLANNING: time, GPU-hours and storage per dataset size and model",
        "",
        f"Generated by `python -m whisper_pipeline.planning --write` (`{COMMAND}`) from `bench/measured.yaml` and",
        "`configs/train/*.yaml`; do not edit by hand (a test fails when this file is stale). A new measurement:",
        "edit its entry in `bench/measured.yaml`, run the command. Training itself is described in",
        "[WHISPER_TRAINING_README.md](WHISPER_TRAINING_README.md).",
        "",
        "## Measured figures",
        "",
        *_table(
            ["figure", "value", "what", "source", "date", "hardware"],
            [
                [f"`{k}`", f"{v['value']} {v['unit']}", v["what"], v["source"], v["date"], v["hardware"]]
                for k, v in m.items()
            ],
        ),
        "",
        "Model sizes (published, not measured): "
        + ", ".join(f"{k} {v['params_m']} M parameters ({v['source']})" for k, v in models.items())
        + ".",
        "",
        "Assumptions (neither measured nor in the code): "
        + "; ".join(f"`{k}` = {v['value']} {v['unit']} ({v['why']})" for k, v in a.items())
        + ".",
        "",
        "## From the code and the presets",
        "",
        f"- Hours are usable audio after intake. Splits (`SplitPolicy`): validation {split.validation_ratio:g}, "
        f"test {split.test_ratio:g}, the rest trains.",
        f"- A training sample is one utterance of at most {MAX_SEGMENT_S:g} s (`MAX_SEGMENT_S`); long recordings "
        f"are cut at a sentence end in the last third of that window, so a sample is taken as "
        f"{MEAN_SAMPLE_S:g} s on average. Whisper pads every sample to a 30 s window, so a corpus of short clips "
        "costs more per hour than this plan says (a 5 s clip costs as much as a 25 s segment).",
        "- Epochs, batch, accumulation, evaluations and kept checkpoints from each model's preset: "
        + "; ".join(
            f"{model}: `configs/train/{PRESETS[model]}` (epochs {_s.epochs:g}, batch {_s.batch_size} × "
            f"{_s.gradient_accumulation_steps}, evaluate every "
            f"{_s.eval_steps or 'epoch'}{' steps' if _s.eval_steps else ''}, "
            f"{_s.save_total_limit} checkpoints kept + the best, CT2 export {'yes' if _s.ct2_export else 'no'})"
            for model in PRESETS
            for _s in [preset_settings(model)]
        )
        + ". whisper-large-v3-turbo has no preset: the large-v3 preset with "
        "`base_model.source: openai/whisper-large-v3-turbo`. Early stopping can end a run sooner.",
        f"- Evaluation (`eval_report`) decodes the test split with {1 + ev.compare_base + ev.compare_production} "
        "models (fine-tuned, base, production); validation during training decodes the validation split at "
        "every evaluation. Alignment uses whisper-base (the data stages' default base model) on all audio.",
        f"- Storage: raw audio at `raw_kbps`; processed audio 16-bit mono {SAMPLE_RATE} Hz WAV "
        f"({SAMPLE_RATE * PCM_BYTES * 3600 / 1e6:.1f} MB per hour; `format: flac` is smaller), counted twice "
        f"(segments cut from long recordings are a second copy at most); a checkpoint is "
        f"{WEIGHT_BYTES + ADAMW_BYTES} B per parameter (fp32 weights + AdamW's two fp32 moments), the packaged "
        f"model {WEIGHT_BYTES} B per parameter (+ {CT2_BYTES} B for the int8 CTranslate2 copy when the preset "
        "exports one).",
        "- CPU stages (intake, preprocessing) run on `cpu_cores` cores; GPU stages one after another on one GPU "
        "(the `gpu` pool's limit is 1); wall time = CPU wall time + GPU-hours.",
        "",
        "## GPU speeds used",
        "",
        "Extrapolation rules, used only where `bench/measured.yaml` has no figure "
        "(add `gpu_train_<model>`, `gpu_align_base` or `gpu_decode_base` to replace them):",
        "",
        "- training: per-sample cost scales with parameter count (whisper-base's measured samples/s × "
        f"params ratio), capped by what {GPU_LOADER_WORKERS} loader workers × `audio_loader_per_core` can feed "
        "(log-mel features are computed on the GPU, `feature_device: auto`, so a worker only reads audio). This "
        "is pessimistic for the larger models: the measured whisper-base run reached about 2% of the H200's bf16 "
        "peak (small batches, no compile), so its per-parameter cost overstates the GPU's.",
        "- alignment and decoding: the CPU speed × the GPU/CPU speed-up measured for whisper-base training "
        "(`gpu_train_base` / `cpu_train_base`), scaled by parameter count for the larger models. These are the "
        "least certain figures: decoding one file at a time keeps a GPU far less busy than training (issue 16 "
        "sets 100× real time as the target for *batched* GPU alignment of whisper-base).",
        "",
        *_table(
            ["model", "training samples/s", "how", "alignment × real time", "how", "decoding × real time", "how"],
            [
                [model, _n(r.train_samples_s), r.train_how, _n(r.align_x), r.align_how, _n(r.decode_x), r.decode_how]
                for model in PRESETS
                for r in [rates(model, data)]
            ],
        ),
        "",
        "## Compute per scenario",
        "",
        *_table(
            [
                "hours",
                "model",
                "samples",
                "steps",
                "evals",
                "GPU-h train",
                "GPU-h validation",
                "GPU-h alignment",
                "GPU-h test eval",
                "GPU-h total",
                "CPU core-h (intake + preprocessing)",
                "wall time",
            ],
            [
                [
                    f"{h:,}",
                    model,
                    f"{e.train_samples:,}",
                    f"{e.steps:,}",
                    e.evaluations,
                    _n(e.train_gpu_h),
                    _n(e.validation_gpu_h),
                    _n(e.align_gpu_h),
                    _n(e.eval_gpu_h),
                    f"**{_n(e.gpu_h)}**",
                    _n(e.cpu_core_h),
                    f"{_n(e.wall_h)} h" + (f" ({_n(e.wall_h / 24)} d)" if e.wall_h >= 24 else ""),
                ]
                for (h, model), e in est.items()
            ],
        ),
        "",
        "## Storage per scenario (GB)",
        "",
        *_table(
            ["hours", "model", "raw audio", "processed (+ segments)", "checkpoints kept", "packaged model", "total"],
            [
                [
                    f"{h:,}",
                    model,
                    _n(e.raw_gb),
                    f"{_n(e.processed_gb)} (+ {_n(e.processed_gb)})",
                    _n(e.checkpoints_gb),
                    _n(e.model_gb),
                    f"**{_n(e.storage_gb)}**",
                ]
                for (h, model), e in est.items()
            ],
        ),
        "",
        "Validation decoding dominates whisper-small from 1,000 hours on: its preset evaluates every 500 steps, "
        "and each evaluation decodes the whole validation split. For large corpora raise `eval_steps`, or keep "
        "the validation split small (`SplitPolicy.validation_ratio`). These validation hours are an upper bound: the "
        "decoding figure is for one file at a time, and the trainer decodes the validation split in batches of "
        "`batch_size`.",
        "",
        "Not included: harvesting (network-bound), hyperparameter sweeps (each trial is a short training run),",
        "the Dagster instance and logs, and `artifact_url` copies to object storage (the same checkpoints again).",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {PLANNING_FILE.name} instead of printing")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        from whisper_pipeline.io import write_text

        write_text(PLANNING_FILE, text)
        print(f"wrote {PLANNING_FILE}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
