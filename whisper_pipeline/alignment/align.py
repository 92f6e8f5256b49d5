"""Align each known transcript to its audio with stable-ts and write the per-file outputs.

stable-ts 2.19's ``load_hf_whisper(path)`` passes an argument transformers 5 removed, so we
build the ``transformers`` ASR pipeline ourselves and hand it over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from whisper_pipeline.io import write_json, write_text


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_aligner(model_path: str, device: str | None = None):
    import stable_whisper
    import torch
    import transformers

    device = device or pick_device()
    dtype = torch.float16 if device == "cuda" else torch.float32
    pipe = transformers.pipeline("automatic-speech-recognition", model=model_path, device=device, dtype=dtype)
    return stable_whisper.load_hf_whisper(model_path, pipeline=pipe, device=device)


@dataclass
class AlignmentResult:
    file_id: str
    status: str  # aligned | failed | implausible
    words: int = 0
    reason: str = ""
    json_path: str = ""


def _words(result_dict: dict) -> list[dict]:
    return [w for s in result_dict.get("segments", []) for w in s.get("words", [])]


def plausibility_problem(words: list[dict], duration: float) -> str:
    """Why an alignment should not be trusted, or '' if it looks fine."""
    if not words:
        return "no words aligned"
    zero = sum(1 for w in words if (w["end"] - w["start"]) <= 0.0)
    if zero / len(words) > 0.5:
        return f"{zero}/{len(words)} words squeezed to zero length"
    if words[-1]["end"] > duration + 0.5:
        return f"words end at {words[-1]['end']:.2f}s past the audio ({duration:.2f}s)"
    return ""


def align_file(aligner, audio_path: str, transcript: str, language: str, file_id: str,
               out_dir: Path, duration: float) -> AlignmentResult:
    """Align one file; writes ``transcription_base.json`` and ``.txt`` under ``out_dir/<file_id>/``."""
    target = out_dir / file_id / "transcription_base.json"
    try:
        result = aligner.align(audio_path, transcript, language=language, verbose=None)
    except Exception as exc:  # stable-ts raises many types for bad audio/text; report, don't stop
        return AlignmentResult(file_id, "failed", reason=f"{type(exc).__name__}: {exc}"[:300])
    if result is None:
        return AlignmentResult(file_id, "failed", reason="aligner returned no result")
    data = result.to_dict()
    words = _words(data)
    doc = {
        "file_id": file_id,
        "audio": audio_path,
        "language": language,
        "text": transcript,
        "segments": [
            {
                "start": s["start"], "end": s["end"], "text": s["text"],
                "words": [{"word": w["word"], "start": w["start"], "end": w["end"],
                           "probability": w.get("probability")} for w in s.get("words", [])],
            }
            for s in data.get("segments", [])
        ],
    }
    problem = plausibility_problem(words, duration)
    doc["status"] = "implausible" if problem else "aligned"
    doc["problem"] = problem
    write_json(target, doc)
    lines = [f"[{w['start']:.2f}-{w['end']:.2f}] {w['word'].strip()}" for w in words]
    write_text(target.with_suffix(".txt"), transcript + "\n\n" + "\n".join(lines) + "\n")
    return AlignmentResult(file_id, doc["status"], words=len(words), reason=problem, json_path=str(target))


def load_existing(out_dir: Path, file_id: str, transcript: str) -> AlignmentResult | None:
    """A finished alignment of the same text from an earlier (possibly crashed) run."""
    target = out_dir / file_id / "transcription_base.json"
    if not target.is_file():
        return None
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    if doc.get("text") != transcript:
        return None
    n = sum(len(s["words"]) for s in doc.get("segments", []))
    return AlignmentResult(file_id, doc.get("status", "aligned"), words=n, reason=doc.get("problem", ""), json_path=str(target))
