"""Transcription and alignment for the service: loaded models kept in a small LRU cache, each on the
fastest backend it has (faster-whisper on a CTranslate2 export, else ``transformers``), language
identification restricted to Bosnian/Croatian/Serbian, word timestamps snapped to speech. Every backend
answers in the same shape (``backends/base.py``)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from whisper_pipeline.alignment.align import snap_segments
from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.serving.backends import BACKENDS, Backend, choose_backend, load_backend
from whisper_pipeline.serving.backends.guards import DEFAULT_GUARDS, Guards

SEGMENT_STATS = ("avg_logprob", "compression_ratio", "no_speech_prob")


class TranscriptionEngine:
    """Thread-safe: one inference at a time (a CPU model already uses every core; on a GPU it keeps
    memory bounded), loads are not duplicated.

    ``backend``: ``auto`` (CTranslate2; a local model without an export is exported on first load, and
    served with ``transformers`` when that fails or for a hub id), ``ct2`` (the same, but a failed export
    is an error) or ``transformers``. ``compute_type``: the CT2
    compute type (``auto``: int8 on CPU, float16 on a GPU). ``cpu_threads``: threads for CT2 on CPU
    (default: the cores this process may use) and, when given, for torch too. ``guards``: what protects
    long or noisy recordings from repetition loops and invented text (``backends/guards.py``; on by
    default, ``Guards().without()`` turns them all off)."""

    def __init__(
        self,
        device: str | None = None,
        max_loaded: int = 2,
        batch_size: int = 8,
        backend: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int | None = None,
        guards: Guards = DEFAULT_GUARDS,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r}: use one of {', '.join(BACKENDS)}")
        self.device = device
        self.max_loaded = max(1, max_loaded)
        self.batch_size = batch_size
        self.backend = backend
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.guards = guards
        self._models: OrderedDict[tuple[str, str], Backend] = OrderedDict()
        self._lock = threading.Lock()

    def loaded(self) -> list[str]:
        return [path for path, _ in self._models]

    def model(self, path: str) -> Backend:
        """The backend holding the model at ``path``, loaded on first use; the least recently used is
        dropped. Asked again after a CT2 export appeared (a promotion), the model is loaded on CT2."""
        with self._lock:
            kind, ct2_dir = choose_backend(path, self.backend)
            key = (path, f"{kind}:{ct2_dir or ''}")
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            for old in [k for k in self._models if k[0] == path]:
                del self._models[old]  # the same model on the backend it had before its export
            model = load_backend(path, kind, ct2_dir, self.device, self.batch_size, self.compute_type, self.cpu_threads)
            self._models[key] = model
            while len(self._models) > self.max_loaded:
                self._models.popitem(last=False)
            return model

    def backend_of(self, path: str) -> str:
        """Which backend ``path`` is (or would be) served on: ``ct2`` or ``transformers``."""
        return choose_backend(path, self.backend, export=False)[0]

    def detect_language(self, path: str, audio: np.ndarray) -> dict[str, float]:
        """Probabilities of bs/hr/sr from Whisper's language token on the first 30 s (the other 96
        languages are excluded: whisper would often say "ru" or "sl" for BCS speech)."""
        model = self.model(path)
        with self._lock:
            probabilities = model.detect_language(audio)
        return {lang: round(p, 4) for lang, p in probabilities.items()}

    def transcribe(
        self,
        path: str,
        audio: np.ndarray,
        language: str | None = None,
        num_beams: int = 1,
        *,
        prompt: str | None = None,
        temperature: float = 0.0,
        guards: Guards | None = None,
    ) -> dict:
        """Text with segments and word timestamps, for audio of any length. ``language`` None: the run's
        own language if it was trained on one, else identified among bs/hr/sr (unreliable between these
        three: see README). ``prompt``: text the decoding continues from (names, spelling, style);
        ``temperature`` 0: the most likely text (with the guards' fallback), above 0: sampled.
        ``guards``: this call's, instead of the engine's."""
        if temperature < 0 or temperature > 1:
            raise ValueError(f"temperature {temperature}: use a value from 0 to 1")
        return self._run(
            path,
            audio,
            language,
            lambda m, lang: m.transcribe(
                audio, lang, num_beams=num_beams, prompt=prompt, temperature=temperature, guards=guards or self.guards
            ),
        )

    def align(self, path: str, audio: np.ndarray, text: str, language: str | None = None) -> dict:
        """Word timestamps for a known text (lyrics, a script): karaoke without recognition errors."""
        if not text.strip():
            raise ValueError("text is empty: give the words to align")
        return self._run(path, audio, language, lambda m, lang: m.align(audio, text, lang), text)

    def _run(self, path: str, audio: np.ndarray, language: str | None, call, text: str | None = None) -> dict:
        started = time.time()
        probabilities, source = None, "request"
        model = self.model(path)
        if language is None:
            language, source = model.trained_language(), "model"
        if language is None:
            probabilities, source = self.detect_language(path, audio), "identified"
            language = max(probabilities, key=probabilities.get)
        with self._lock:
            segments = call(model, language)
        if segments is None:
            raise ValueError("the model could not align this text to this audio")
        duration = audio.size / SAMPLE_RATE
        segments = in_order(clamp_to_audio(snap_segments(segments, audio), duration))
        for seg in segments:
            for stat in SEGMENT_STATS:
                seg.setdefault(stat, None)
        elapsed = time.time() - started
        return {
            "text": text if text is not None else " ".join(s["text"] for s in segments if s["text"]),
            "language": language,
            "language_source": source,
            "language_probabilities": probabilities,
            "duration": round(duration, 3),
            "segments": segments,
            "backend": model.name,
            "processing_seconds": round(elapsed, 3),
            "real_time_factor": round(elapsed / duration, 4) if duration else None,
        }


def in_order(segments: list[dict]) -> list[dict]:
    """Words in time order without overlaps (a karaoke highlight and subtitle cues need it): a word
    starting before the previous one ends cuts that one short; one starting before the previous one
    starts is moved to it. Windows decoded apart can overlap by a few hundredths at their seams."""
    previous = None
    for seg in segments:
        for w in seg["words"]:
            if previous is not None:
                w["start"] = max(w["start"], previous["start"])
                w["end"] = max(w["end"], w["start"])
                if previous["end"] > w["start"]:
                    previous["end"] = w["start"]
            previous = w
    for seg in segments:
        if seg["words"]:
            seg["start"], seg["end"] = seg["words"][0]["start"], seg["words"][-1]["end"]
    return segments


def clamp_to_audio(segments: list[dict], duration: float) -> list[dict]:
    """Times inside [0, duration]: Whisper's timestamp tokens can point past the end of a short clip
    (seen with weak models), and a subtitle or karaoke cue after the audio ends is useless."""

    def clamp(t: float) -> float:
        return round(min(max(float(t), 0.0), duration), 3)

    for seg in segments:
        for w in seg["words"]:
            w["start"] = clamp(w["start"])
            w["end"] = max(w["start"], clamp(w["end"]))
        seg["start"] = clamp(seg["start"])
        seg["end"] = max(seg["start"], clamp(seg["end"]))
    return segments
