"""The CTranslate2 backend: faster-whisper on a model's CT2 export (int8 on CPU, float16 on GPU by
default). Long recordings are decoded by faster-whisper's own sequential long-form loop (30 s windows,
each conditioned on the text before it), with its word timestamps, under our guards (``guards.py``):
its own silero-VAD filter (``vad_filter``: only speech is decoded, times mapped back to the recording),
its temperature fallback and no-speech check with our thresholds, and loops collapsed afterwards.
Alignment of a known text goes through stable-ts, which works on a faster-whisper model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.device import on_gpu
from whisper_pipeline.serving.backends.base import restrict_languages
from whisper_pipeline.serving.backends.guards import DEFAULT_GUARDS, Guards, collapse_loops
from whisper_pipeline.workspace import LANGUAGES


def default_compute_type(device: str) -> str:
    """int8 on CPU (about twice as fast as float32, same WER within noise), float16 on a GPU."""
    return "float16" if on_gpu(device) else "int8"


class CT2Backend:
    name = "ct2"

    def __init__(
        self,
        ct2_dir: str | Path,
        device: str = "cpu",
        compute_type: str = "auto",
        cpu_threads: int | None = None,
        language: str | None = None,
        device_index: int = 0,
    ):
        import stable_whisper

        self.compute_type = default_compute_type(device) if compute_type in ("auto", "", None) else compute_type
        self.cpu_threads = cpu_threads or os.cpu_count() or 1
        # a faster_whisper.WhisperModel, with stable-ts's ``align`` added (``transcribe_original`` is the
        # plain faster-whisper ``transcribe``)
        self.model = stable_whisper.load_faster_whisper(
            str(ct2_dir),
            device=device,
            device_index=device_index,
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
        )
        self.language = language

    def trained_language(self) -> str | None:
        return self.language

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        """faster-whisper's probabilities over every language on the first 30 s, restricted to bs/hr/sr."""
        _, _, every = self.model.detect_language(audio=audio[: 30 * SAMPLE_RATE])
        return restrict_languages(dict(every))

    def transcribe(
        self,
        audio: np.ndarray,
        language: str,
        num_beams: int = 1,
        prompt: str | None = None,
        temperature: float = 0.0,
        guards: Guards = DEFAULT_GUARDS,
    ) -> list[dict]:
        """Segments with words and faster-whisper's per-segment numbers. ``temperature`` 0: greedy (or
        beams) with the guards' fallback schedule; above 0: sampled at that temperature."""
        temps = guards.schedule(temperature)
        segments, _ = self.model.transcribe_original(
            audio,
            language=language,
            task="transcribe",
            beam_size=num_beams,
            best_of=max(1, num_beams),
            temperature=list(temps) if len(temps) > 1 else temps[0],
            initial_prompt=prompt.strip() if prompt and prompt.strip() else None,
            word_timestamps=True,
            compression_ratio_threshold=guards.compression_ratio_threshold,
            log_prob_threshold=guards.log_prob_threshold,
            no_speech_threshold=guards.no_speech_threshold,
            vad_filter=guards.vad,
            vad_parameters={
                "threshold": guards.vad_threshold,
                "min_silence_duration_ms": int(guards.min_silence_s * 1000),
                "speech_pad_ms": int(guards.speech_pad_s * 1000),
            },
        )
        return collapse_loops([plain_segment(s) for s in segments], guards.max_repeats)[0]

    def align(self, audio: np.ndarray, text: str, language: str) -> list[dict] | None:
        from whisper_pipeline.alignment.align import result_segments

        result = self.model.align(audio, text, language=language, verbose=None)
        return None if result is None else result_segments(result)


def plain_segment(segment) -> dict:
    """A faster-whisper ``Segment`` as the engine's plain dict."""
    words = [
        {"word": w.word, "start": float(w.start), "end": float(w.end), "probability": float(w.probability)}
        for w in segment.words or []
        if w.word.strip()
    ]
    return {
        "start": float(segment.start),
        "end": float(segment.end),
        "text": " ".join(segment.text.split()),
        "words": words,
        "avg_logprob": round(float(segment.avg_logprob), 4),
        "compression_ratio": round(float(segment.compression_ratio), 4),
        "no_speech_prob": round(float(segment.no_speech_prob), 4),
        "temperature": segment.temperature,
    }


def generation_language(model_dir: str | Path) -> str | None:
    """The language a one-language run was trained on, from its ``generation_config.json`` (the CT2
    export does not keep it), else None."""
    path = Path(model_dir) / "generation_config.json"
    try:
        lang = json.loads(path.read_text(encoding="utf-8")).get("language")
    except (OSError, ValueError):
        return None
    lang = lang.strip("<|>") if isinstance(lang, str) else None
    return lang if lang in LANGUAGES else None
