"""Evaluate base and fine-tuned models on one language's test split."""

from __future__ import annotations

import time
from collections.abc import Callable

from whisper_pipeline.evaluation.metrics import score, utterance_wer
from whisper_pipeline.evaluation.transcribe import WhisperTranscriber


def evaluate_models(models: dict[str, str], test_lines: list[dict], language: str, batch_size: int = 8,
                    num_beams: int = 1, device: str | None = None,
                    progress: Callable[[str, int, int], None] | None = None) -> dict:
    """``models`` maps a label (``base``, ``finetuned``) to a model path; returns metrics and per-utterance rows."""
    refs = [l["transcript"] for l in test_lines]
    result: dict = {"language": language, "utterances": len(test_lines),
                    "audio_seconds": round(sum(l["duration"] for l in test_lines), 2), "models": {}}
    per_utt = [{"id": l["id"], "speaker": l["speaker"], "reference": l["transcript"]} for l in test_lines]
    for label, path in models.items():
        transcriber = WhisperTranscriber(path, device)
        started = time.time()
        hyps = transcriber.transcribe([l["audio"] for l in test_lines], language, batch_size, num_beams,
                                      progress=(lambda d, t, label=label: progress(label, d, t)) if progress else None)
        elapsed = time.time() - started
        metrics = score(refs, hyps)
        metrics["model"] = path
        metrics["real_time_factor"] = round(elapsed / result["audio_seconds"], 4) if result["audio_seconds"] else None
        result["models"][label] = metrics
        for row, hyp, ref in zip(per_utt, hyps, refs):
            row[f"{label}_hypothesis"] = hyp
            row[f"{label}_wer"] = utterance_wer(ref, hyp)
    result["per_utterance"] = per_utt
    return result
