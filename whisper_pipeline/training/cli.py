"""The training process: ``python -m whisper_pipeline.training.cli JOB.json``.

The ``checkpoint`` asset writes the job file and launches this module through Dagster Pipes as
``accelerate launch … -m whisper_pipeline.training.cli JOB.json``, so the same code trains on one
CPU, one GPU or several GPUs. Launched by Pipes, it streams progress to Dagster's log and reports
the materialization's metadata; launched by hand it just trains (handy for debugging and resuming).

JOB.json (``training_job``): ``base_model``, ``train_manifests``, ``validation_manifests``, ``run_dir``,
``log_path``, ``settings`` (see ``settings.py``), optional ``device`` and ``run_id``; ``accelerate_command``
is the command line that launches it. This module imports the training code only when it trains.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from whisper_pipeline.data.manifests import read_lines
from whisper_pipeline.review.pseudo import summary as pseudo_label_summary
from whisper_pipeline.training.package import (
    export_ct2,
    write_model_card,
    write_run_manifest,
)
from whisper_pipeline.training.settings import TrainSettings


def training_job(
    *,
    base_model: str,
    run_dir: Path,
    device: str,
    run_id: str,
    train_manifests: list[Path],
    validation_manifests: list[Path],
    log_path: Path,
    settings: TrainSettings,
) -> dict:
    """The JOB.json this module reads."""
    return {
        "base_model": base_model,
        "run_dir": str(run_dir),
        "device": device,
        "run_id": run_id,
        "train_manifests": [str(p) for p in train_manifests],
        "validation_manifests": [str(p) for p in validation_manifests],
        "log_path": str(log_path),
        "settings": asdict(settings),
    }


def accelerate_command(job: Path, num_processes: int, device: str) -> list[str]:
    """``accelerate launch`` of this module: one process per GPU, or one CPU process."""
    accelerate = Path(sys.executable).with_name("accelerate")
    cmd = [
        str(accelerate) if accelerate.exists() else "accelerate",
        "launch",
        "--num_machines",
        "1",
        "--num_processes",
        str(num_processes),
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    if device == "cpu":
        cmd.append("--cpu")
    elif num_processes > 1:
        cmd.append("--multi_gpu")
    return cmd + ["-m", "whisper_pipeline.training.cli", str(job)]


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))) == 0


def run_job(job: dict, pipes=None) -> dict:
    from whisper_pipeline.training.train import train_whisper

    settings = TrainSettings.from_dict(job["settings"])
    train_rows = [r for p in job["train_manifests"] if Path(p).is_file() for r in read_lines(p)]
    val_rows = [r for p in job["validation_manifests"] if Path(p).is_file() for r in read_lines(p)]
    run_dir, log_path = Path(job["run_dir"]), Path(job["log_path"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    main = _is_main_process()

    def on_log(entry: dict) -> None:
        if not main:
            return
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(
                json.dumps(
                    {"run_id": job.get("run_id", ""), "run": run_dir.name, "time": time.time(), **entry}, default=str
                )
                + "\n"
            )
        if pipes is not None:
            if "loss" in entry:
                pipes.log.info(
                    f"step {entry['step']} epoch {entry.get('epoch') or 0:.2f} loss {entry['loss']:.4f} "
                    f"lr {entry.get('learning_rate', 0):.2e} grad_norm {entry.get('grad_norm', 0):.3f} "
                    f"{entry.get('samples_per_second', 0):.2f} samples/s"
                )
            elif "eval_loss" in entry:
                pipes.log.info(
                    f"evaluation at step {entry['step']}: loss {entry['eval_loss']:.4f}"
                    + (f", WER {entry['eval_wer']:.4f}" if "eval_wer" in entry else "")
                )

    summary = train_whisper(
        job["base_model"], train_rows, val_rows, run_dir, settings, on_log=on_log, device=job.get("device")
    )
    if not main:
        return summary
    if summary["dropped_too_long_labels"] and pipes is not None:
        pipes.log.warning(
            f"{len(summary['dropped_too_long_labels'])} utterance(s) skipped: labels longer than the "
            f"decoder's limit: {summary['dropped_too_long_labels'][:20]}"
        )
    summary["pseudo_labels"] = pseudo_label_summary(train_rows, settings.pseudo_label_min_score, settings.pseudo_labels)
    manifest = write_run_manifest(
        run_dir, summary, job["train_manifests"] + job["validation_manifests"], job.get("run_id", "")
    )
    write_model_card(run_dir, manifest)
    if settings.ct2_export:
        export_ct2(run_dir)
    if settings.artifact_url:
        from whisper_pipeline.training.artifacts import upload_dir

        remote = f"{settings.artifact_url.rstrip('/')}/{settings.run_name}/final"
        files = [p for p in run_dir.iterdir() if p.is_file() or p.name == "ct2"]
        with tempfile.TemporaryDirectory() as tmp:  # the final model without the checkpoints folder
            for p in files:
                (shutil.copytree if p.is_dir() else shutil.copy2)(p, Path(tmp) / p.name)
            upload_dir(tmp, remote)
        summary["artifact_url"] = remote
    if pipes is not None:
        pipes.report_asset_materialization(
            metadata={
                "run": settings.run_name,
                "path": {"raw_value": str(run_dir), "type": "path"},
                "base_model": job["base_model"],
                "device": summary["device"],
                "precision": summary["precision"],
                "train_utterances": summary["train_samples"],
                "validation_utterances": summary["validation_samples"],
                "skipped_too_long_labels": len(summary["dropped_too_long_labels"]),
                "train_hours": {"raw_value": round(sum(r.duration for r in train_rows) / 3600, 4), "type": "float"},
                "steps": summary["global_step"],
                "train_loss": {"raw_value": float(summary["train_loss"]), "type": "float"},
                "validation_loss": {"raw_value": float(summary["validation_loss"] or 0.0), "type": "float"},
                "validation_wer": {
                    "raw_value": float(summary["validation_wer"] if summary["validation_wer"] is not None else -1),
                    "type": "float",
                },
                "wall_time_s": {"raw_value": summary["wall_time_s"], "type": "float"},
                "resumed_from": summary["resumed_from"] or "",
                "best_checkpoint": summary["best_checkpoint"] or "",
                "training_log": {"raw_value": str(log_path), "type": "path"},
                "tensorboard": {"raw_value": str(run_dir / "tensorboard"), "type": "path"},
                "ct2_export": str(run_dir / "ct2") if settings.ct2_export else "",
                "artifact_url": summary.get("artifact_url", ""),
            }
        )
    return summary


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m whisper_pipeline.training.cli JOB.json")
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with ExitStack() as stack:
        pipes = None
        if os.environ.get("DAGSTER_PIPES_CONTEXT") and _is_main_process():
            from dagster_pipes import open_dagster_pipes

            pipes = stack.enter_context(open_dagster_pipes())
        summary = run_job(job, pipes)
    if _is_main_process():
        print(
            json.dumps(
                {
                    k: summary[k]
                    for k in ("global_step", "train_loss", "last_logged_loss", "resumed_from", "wall_time_s")
                }
            )
        )


if __name__ == "__main__":
    main()
