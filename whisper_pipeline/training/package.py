"""What a finished run leaves behind besides the weights: the run manifest, a model card, the
shared processor, and an optional CTranslate2 copy for fast serving with faster-whisper."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from whisper_pipeline.device import on_gpu
from whisper_pipeline.io import write_json, write_text
from whisper_pipeline.workspace import REPO_ROOT, RUN_CT2, RUN_MANIFEST, RUN_TRAINING_DATA


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_version() -> dict:
    """Package version and, in a git checkout, the commit and whether the tree had local changes."""
    try:
        out = {"package": metadata.version("whisper-pipeline")}
    except metadata.PackageNotFoundError:  # running from a source tree that was not pip-installed
        out = {"package": "source tree"}
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
        out.update(commit=commit.stdout.strip(), dirty=bool(dirty.stdout.strip()))
    except (OSError, subprocess.CalledProcessError):
        pass
    return out


def hardware(device: str) -> dict:
    import torch

    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": metadata.version("transformers"),
        "cpu_count": os.cpu_count(),
        "device": device,
    }
    if on_gpu(device):
        info.update(gpu=torch.cuda.get_device_name(0), gpu_count=torch.cuda.device_count())
    return info


def write_run_manifest(run_dir: Path, summary: dict, data_manifests: list[str], run_id: str = "") -> dict:
    """``run_manifest.json``: data manifest hashes, code version, hyperparameters, metrics, hardware, wall time."""
    manifest = {
        "run": run_dir.name,
        "dagster_run_id": run_id,
        "code_version": code_version(),
        "data_manifests": {str(p): file_sha256(p) for p in data_manifests if Path(p).is_file()},
        "hyperparameters": summary["settings"],
        "hardware": hardware(summary["device"]),
        "metrics": {k: summary.get(k) for k in ("train_loss", "last_logged_loss", "validation_loss", "validation_wer")},
        **{k: v for k, v in summary.items() if k not in ("settings",)},
    }
    write_json(run_dir / RUN_MANIFEST, manifest)
    write_json(run_dir / RUN_TRAINING_DATA, training_data_record(data_manifests))
    return manifest


def training_data_record(data_manifests: list[str]) -> dict:
    """What the data of a run came from, kept beside its manifest (the manifests themselves change as the
    corpus grows or data is removed): utterances and seconds per language and source, and the SHA-256 of
    every source recording, which is how a removal finds the models trained on what it removes."""
    from whisper_pipeline.data.manifests import read_lines

    sources: dict[tuple[str, str], dict] = {}
    digests: set[str] = set()
    unhashed = 0
    for path in data_manifests:
        if not Path(path).is_file():
            continue
        for line in read_lines(path):
            entry = sources.setdefault((line.language, line.source), {"utterances": 0, "seconds": 0.0})
            entry["utterances"] += 1
            entry["seconds"] = round(entry["seconds"] + line.duration, 3)
            if line.sha256:
                digests.add(line.sha256)
            else:
                unhashed += 1
    return {
        "sources": [{"language": l, "source": s, **v} for (l, s), v in sorted(sources.items())],
        "audio_sha256": sorted(digests),
        "lines_without_sha256": unhashed,
    }


def write_model_card(run_dir: Path, manifest: dict) -> Path:
    """A Hugging Face model card (``README.md``) saying what the model is, how it was made, how well it did."""
    hp, metrics = manifest["hyperparameters"], manifest["metrics"]
    langs = manifest.get("languages", [])
    wer = metrics.get("validation_wer")
    lines = [
        "---",
        "language:",
        *[f"- {l}" for l in langs],
        "tags:",
        "- whisper",
        "- automatic-speech-recognition",
        "- whisper-pipeline",
        f"base_model: {manifest.get('base_model', '')}",
        "pipeline_tag: automatic-speech-recognition",
        "---",
        "",
        f"# {manifest['run']}",
        "",
        (
            f"Whisper fine-tuned for {', '.join(langs)} by [whisper-pipeline](https://github.com/) "
            f"(run `{manifest['run']}`, Dagster run `{manifest.get('dagster_run_id') or '-'}`)."
        ),
        "",
        "## Training",
        "",
        f"- base model: `{manifest.get('base_model', '')}`",
        f"- utterances: {manifest.get('train_samples')} train, {manifest.get('validation_samples')} validation",
        (
            f"- steps: {manifest.get('global_step')}, epochs {hp['epochs']}, learning rate {hp['learning_rate']}, "
            f"batch {hp['batch_size']} × {hp['gradient_accumulation_steps']}, precision {manifest.get('precision')}"
        ),
        f"- hardware: {manifest['hardware'].get('gpu') or manifest['hardware']['platform']}, "
        f"wall time {manifest.get('wall_time_s')} s",
        f"- code: {manifest['code_version']}",
        "",
        "## Results",
        "",
        f"- validation loss: {metrics.get('validation_loss')}",
        f"- validation WER (BCS evaluation normalizer): {wer if wer is not None else 'not computed'}",
        "",
        f"See `{RUN_MANIFEST}` for the data manifests' hashes and every setting, and the pipeline's",
        "`eval_report` for test-set WER per language.",
        "",
        "## Use",
        "",
        "```python",
        "from transformers import pipeline",
        f"asr = pipeline('automatic-speech-recognition', model='{run_dir}')",
        f"asr('audio.wav', generate_kwargs={{'language': '{langs[0] if langs else 'hr'}', 'task': 'transcribe'}})",
        "```",
        "",
    ]
    return write_text(run_dir / "README.md", "\n".join(lines))


def save_processor(base_model: str, target: Path) -> Path:
    """The ``WhisperProcessor`` of the base model, saved once under ``models/processor/``."""
    from transformers import WhisperProcessor

    # transformers 5 saves processor_config.json, earlier versions preprocessor_config.json
    if not any((target / name).is_file() for name in ("processor_config.json", "preprocessor_config.json")):
        WhisperProcessor.from_pretrained(base_model).save_pretrained(str(target))
    return target


def export_ct2(run_dir: Path, quantization: str = "int8", target: Path | None = None) -> Path:
    """A CTranslate2 copy of the model in ``run_dir`` for faster-whisper, at ``target`` (default: its
    ``ct2/`` subdirectory, ``Workspace.run_ct2``), with what faster-whisper reads beside ``model.bin``:
    ``tokenizer.json`` and ``preprocessor_config.json`` (the mel settings; transformers 5 keeps them
    inside ``processor_config.json``, which faster-whisper does not read, so it is written from the
    feature extractor). Built in a temporary directory next to ``target`` and renamed into place, so a
    failed export leaves nothing behind and a reader never sees half an export."""
    import shutil
    import tempfile

    from ctranslate2.converters import TransformersConverter
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    run_dir = Path(run_dir)
    target = Path(target) if target is not None else run_dir / RUN_CT2
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir}: no transformers model to export to CTranslate2 (config.json missing)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = tmp.with_name(tmp.name + ".old")
    try:
        TransformersConverter(str(run_dir)).convert(str(tmp / "model"), quantization=quantization, force=True)
        out = tmp / "model"
        if (run_dir / "tokenizer.json").is_file():
            shutil.copyfile(run_dir / "tokenizer.json", out / "tokenizer.json")
        else:  # a checkpoint saved with vocab.json/merges.txt only: faster-whisper needs the fast tokenizer's file
            AutoTokenizer.from_pretrained(str(run_dir)).backend_tokenizer.save(str(out / "tokenizer.json"))
        WhisperFeatureExtractor.from_pretrained(str(run_dir)).to_json_file(str(out / "preprocessor_config.json"))
        if target.exists():
            target.rename(old)
        out.rename(target)
    except BaseException:
        if old.exists() and not target.exists():
            old.rename(target)  # the previous export stays as it was
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target
