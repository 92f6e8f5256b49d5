"""Evaluate models on one language's test split: WER/CER with confidence intervals, overall and per
speaker / duration bucket / source, error counts, frequent substitutions, per-utterance rows, and
paired significance tests of the fine-tuned model against the base and the production model; and the
same utterances under degraded conditions (``evaluation/conditions.py``), scored for every model."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from whisper_pipeline.audio.degrade import CONDITIONS, check_conditions
from whisper_pipeline.data.balance import duration_bucket
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.evaluation.conditions import DEFAULT_CONDITIONS, write_degraded
from whisper_pipeline.evaluation.metrics import breakdown, paired_comparison, summarize, utterance_errors
from whisper_pipeline.evaluation.transcribe import WhisperTranscriber
from whisper_pipeline.parallel import ParallelSettings, map_files

SCHEMA_VERSION = 2  # 2: intervals, breakdowns, comparisons, per-utterance duration/audio (dashboard input)


@dataclass
class EvalSettings:
    """Which run to evaluate, how to decode, and which models to compare it with."""

    run_name: str = field(default="", metadata={"help": "Run to evaluate; empty = the latest trained run"})
    batch_size: int = field(default=8, metadata={"help": "Utterances transcribed per batch"})
    num_beams: int = field(default=1, metadata={"help": "Beam width; 1 = greedy decoding"})
    compare_base: bool = field(default=True, metadata={"help": "Also score the base model on the same test split"})
    compare_production: bool = field(
        default=True, metadata={"help": "Also score the production model (models/registry.json)"}
    )
    conditions: list[str] = field(
        default_factory=lambda: list(DEFAULT_CONDITIONS),
        metadata={
            "help": "Degraded conditions every model is also scored under (audio/degrade.py names, e.g. "
            "pink_10db, reverb_0.8s, telephone, mp3_24k); [] = clean audio only"
        },
    )

    def __post_init__(self):
        check_conditions(list(self.conditions))


def evaluate_models(
    models: dict[str, str],
    test_lines: list[ManifestLine],
    language: str,
    batch_size: int = 8,
    num_beams: int = 1,
    device: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    conditions: list[str] | None = None,
    babble_from: list[ManifestLine] | None = None,
    parallel: ParallelSettings | None = None,
) -> dict:
    """``models`` maps a label (``finetuned``, ``base``, ``production``) to a model path. ``conditions``
    (``audio/degrade.py`` names) are scored too, on degraded copies of the same utterances written to a
    temporary directory (removed afterwards); babble is made from ``babble_from`` (other test speakers).

    The models transcribe one after another in this process, or, when ``parallel`` names a Ray cluster, one Ray
    task per model (a GPU each on ``cuda``; the degraded copies' directory must then be visible to the workers:
    ``TMPDIR`` on the shared filesystem for a cluster of several machines)."""
    parallel = parallel or ParallelSettings()
    conditions = check_conditions(list(conditions or []))
    refs = [l.transcript for l in test_lines]
    result: dict = {
        "schema_version": SCHEMA_VERSION,
        "language": language,
        "utterances": len(test_lines),
        "decoding": {"num_beams": num_beams},
        "audio_seconds": round(sum(l.duration for l in test_lines), 2),
        "models": {},
        "comparisons": {},
    }
    per_utt = [
        {
            "id": l.id,
            "speaker": l.speaker,
            "duration": l.duration,
            "source": l.source,
            "audio": l.audio,
            "reference": l.transcript,
        }
        for l in test_lines
    ]
    errors: dict[str, list] = {}
    condition_hyps: dict[str, dict[str, list[str]]] = {c: {} for c in conditions}
    condition_seconds = 0.0
    scratch = tempfile.TemporaryDirectory(prefix="eval-conditions-") if conditions else contextlib.nullcontext()
    with scratch as tmp:
        started = time.time()
        degraded = write_degraded(test_lines, conditions, Path(tmp), babble_from) if conditions else None
        condition_seconds += time.time() - started
        on_ray = bool(parallel.address())
        transcribe_all = partial(
            _transcribe_with,
            audio=[l.audio for l in test_lines],
            degraded=degraded.paths if degraded else {},
            language=language,
            batch_size=batch_size,
            num_beams=num_beams,
            device=("cuda" if str(device).startswith("cuda") else device) if on_ray else device,
            progress=None if on_ray else progress,  # a callback cannot travel to a Ray worker
        )
        outcomes = map_files(
            transcribe_all,
            list(models.items()),
            settings=parallel,
            num_gpus=1.0 if on_ray and str(device).startswith("cuda") else 0,
            in_this_process=True,
        )
        for (label, path), outcome in zip(models.items(), outcomes):
            if outcome.error is not None:  # a model that does not load or run: the evaluation cannot stand
                raise outcome.error
            hyps, by_condition, elapsed, degraded_elapsed = outcome.value
            errors[label] = [utterance_errors(r, h) for r, h in zip(refs, hyps)]
            for row, hyp, err in zip(per_utt, hyps, errors[label]):
                row[f"{label}_hypothesis"] = hyp
                row[f"{label}_wer"] = err.wer if err else None
            result["models"][label] = {
                "model": path,
                "real_time_factor": round(elapsed / result["audio_seconds"], 4) if result["audio_seconds"] else None,
            }
            for name, texts in by_condition.items():
                condition_hyps[name][label] = texts
            condition_seconds += degraded_elapsed
    scorable = [i for i, r in enumerate(refs) if all(errors[m][i] is not None for m in errors)]
    result["scored_utterances"] = len(scorable)
    groups = {
        "by_speaker": [test_lines[i].speaker for i in scorable],
        "by_duration": [duration_bucket(test_lines[i].duration) for i in scorable],
        "by_source": [test_lines[i].source for i in scorable],
    }
    for label in errors:
        items = [errors[label][i] for i in scorable]
        result["models"][label].update(summarize(items))
        for key, labels in groups.items():
            result["models"][label][key] = breakdown(items, labels)
    if "finetuned" in errors and scorable:
        for other in ("base", "production"):
            if other in errors:
                result["comparisons"][f"finetuned_vs_{other}"] = paired_comparison(
                    [errors[other][i] for i in scorable], [errors["finetuned"][i] for i in scorable]
                )
    if conditions:
        result["conditions"] = {
            name: _condition_entry(name, condition_hyps[name], refs, scorable, degraded.skipped.get(name))
            for name in conditions
        }
        result["conditions_seconds"] = round(condition_seconds, 2)
    result["per_utterance"] = per_utt
    return result


def _transcribe_with(
    model: tuple[str, str],
    audio: list[str],
    degraded: dict[str, list[str]],
    language: str,
    batch_size: int,
    num_beams: int,
    device: str | None,
    progress: Callable[[str, int, int], None] | None,
) -> tuple[list[str], dict[str, list[str]], float, float]:
    """One model's (label, path) texts of the clean clips and of each condition's copies, and the seconds each
    took: what one process (this one, or a Ray worker) does with one model loaded."""
    label, path = model
    transcriber = WhisperTranscriber(path, device)
    started = time.time()
    hyps = transcriber.transcribe(
        audio,
        language,
        batch_size,
        num_beams,
        progress=(lambda d, t: progress(label, d, t)) if progress else None,
    )
    elapsed = time.time() - started
    by_condition = {
        name: transcriber.transcribe(
            paths,
            language,
            batch_size,
            num_beams,
            progress=(lambda d, t, k=f"{label} ({name})": progress(k, d, t)) if progress else None,
        )
        for name, paths in degraded.items()
    }
    return hyps, by_condition, elapsed, time.time() - started - elapsed


CONDITION_SUMMARY = ("utterances", "reference_words", "wer", "wer_ci95", "cer", "cer_ci95")
CONDITION_SUMMARY += ("substitutions", "deletions", "insertions")


def _condition_entry(
    name: str, hyps: dict[str, list[str]], refs: list[str], scorable: list[int], skipped: str | None
) -> dict:
    """One condition's scores: what it is, per model WER/CER with intervals and edit counts, the paired
    comparisons of the fine-tuned model, and each model's hypotheses (in ``per_utterance`` order)."""
    spec = CONDITIONS[name]
    entry: dict = {
        "kind": spec.kind,
        "description": spec.description,
        **{k: getattr(spec, k) for k in ("noise", "snr_db", "rt60_s", "codec", "kbps") if getattr(spec, k)},
    }
    if skipped:
        return {**entry, "skipped": skipped}
    errors = {label: [utterance_errors(refs[i], h[i]) for i in scorable] for label, h in hyps.items()}
    summaries = {label: summarize(items) for label, items in errors.items()}
    entry["models"] = {label: {k: s.get(k) for k in CONDITION_SUMMARY} for label, s in summaries.items()}
    entry["comparisons"] = {
        f"finetuned_vs_{other}": paired_comparison(errors[other], errors["finetuned"])
        for other in ("base", "production")
        if other in errors and "finetuned" in errors and scorable
    }
    entry["hypotheses"] = hyps
    return entry
