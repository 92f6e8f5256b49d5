"""Transcription and alignment for the service: loaded models kept in a small LRU cache, language
identification restricted to Bosnian/Croatian/Serbian, word timestamps snapped to speech."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from whisper_pipeline.alignment.align import load_aligner, result_segments
from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.workspace import LANGUAGES


class TranscriptionEngine:
    """Thread-safe: one inference at a time (a CPU model already uses every core; on a GPU it keeps
    memory bounded), loads outside the lock are not duplicated."""

    def __init__(self, device: str | None = None, max_loaded: int = 2, batch_size: int = 8):
        self.device = device
        self.max_loaded = max(1, max_loaded)
        self.batch_size = batch_size
        self._models: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def loaded(self) -> list[str]:
        return list(self._models)

    def model(self, path: str):
        """The stable-ts model for ``path``, loaded on first use; the least recently used is dropped."""
        with self._lock:
            if path in self._models:
                self._models.move_to_end(path)
                return self._models[path]
            model = load_aligner(path, self.device)
            self._models[path] = model
            while len(self._models) > self.max_loaded:
                self._models.popitem(last=False)
            return model

    def detect_language(self, path: str, audio: np.ndarray) -> dict[str, float]:
        """Probabilities of bs/hr/sr from Whisper's language token on the first 30 s (the other 96
        languages are excluded: whisper would often say "ru" or "sl" for BCS speech)."""
        import torch

        pipe = self.model(path)._pipe
        tokenizer, hf = pipe.tokenizer, pipe.model
        feats = pipe.feature_extractor(
            audio[: 30 * SAMPLE_RATE], sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features
        ids = [tokenizer.convert_tokens_to_ids(f"<|{lang}|>") for lang in LANGUAGES]
        start = torch.tensor(
            [[tokenizer.convert_tokens_to_ids("<|startoftranscript|>")]],
            device=hf.device,
        )
        with self._lock, torch.inference_mode():
            logits = hf(input_features=feats.to(hf.device, hf.dtype), decoder_input_ids=start).logits[0, -1]
        probs = torch.softmax(logits[ids].float(), dim=-1).tolist()
        return {lang: round(p, 4) for lang, p in zip(LANGUAGES, probs)}

    def transcribe(
        self,
        path: str,
        audio: np.ndarray,
        language: str | None = None,
        num_beams: int = 1,
    ) -> dict:
        """Text with segments and word timestamps. ``language`` None: the run's own language if it was
        trained on one, else identified among bs/hr/sr (unreliable between these three: see README)."""
        return self._run(
            path,
            audio,
            language,
            lambda m, lang: m.transcribe(
                audio,
                language=lang,
                verbose=None,
                batch_size=self.batch_size,
                num_beams=num_beams,
            ),
        )

    def align(self, path: str, audio: np.ndarray, text: str, language: str | None = None) -> dict:
        """Word timestamps for a known text (lyrics, a script): karaoke without recognition errors."""
        if not text.strip():
            raise ValueError("text is empty: give the words to align")
        return self._run(
            path,
            audio,
            language,
            lambda m, lang: m.align(audio, text, language=lang, verbose=None),
            text,
        )

    def _run(
        self,
        path: str,
        audio: np.ndarray,
        language: str | None,
        call,
        text: str | None = None,
    ) -> dict:
        started = time.time()
        probabilities, source = None, "request"
        model = self.model(path)
        if language is None:
            language, source = trained_language(model), "model"
        if language is None:
            probabilities, source = self.detect_language(path, audio), "identified"
            language = max(probabilities, key=probabilities.get)
        with self._lock:
            result = call(model, language)
        if result is None:
            raise ValueError("the model could not align this text to this audio")
        duration = audio.size / SAMPLE_RATE
        segments = clamp_to_audio(result_segments(result, audio), duration)
        elapsed = time.time() - started
        return {
            "text": text if text is not None else " ".join(s["text"] for s in segments),
            "language": language,
            "language_source": source,
            "language_probabilities": probabilities,
            "duration": round(duration, 3),
            "segments": segments,
            "processing_seconds": round(elapsed, 3),
            "real_time_factor": round(elapsed / duration, 4) if duration else None,
        }


def trained_language(model) -> str | None:
    """The language a one-language run was trained on (its generation config says so), else None."""
    lang = getattr(model._pipe.model.generation_config, "language", None)
    lang = lang.strip("<|>") if isinstance(lang, str) else None
    return lang if lang in LANGUAGES else None


def clamp_to_audio(segments: list[dict], duration: float) -> list[dict]:
    """Times inside [0, duration]: Whisper's timestamp tokens can point past the end of a short clip
    (seen with weak models), and a subtitle or karaoke cue after the audio ends is useless."""

    def clamp(t: float) -> float:
        return round(min(max(t, 0.0), duration), 3)

    for seg in segments:
        for w in seg["words"]:
            w["start"] = clamp(w["start"])
            w["end"] = max(w["start"], clamp(w["end"]))
        seg["start"] = clamp(seg["start"])
        seg["end"] = max(seg["start"], clamp(seg["end"]))
    return segments
