"""Batched greedy (or beam) transcription with a transformers Whisper model, under the long-form
guards of the service (``serving/backends/guards.py``, on by default): a clip whose text repeats itself
or is improbable is decoded again at higher temperatures (sampled, seeded), one judged silent gives no
text, loops are collapsed. A clip longer than Whisper's 30 s window is not cut off at 30 s: the speech
silero-VAD hears in it is cut into windows at pauses (``windows.gated_windows``), decoded with the
others, and the windows' texts joined. Short clips are not VAD-gated (evaluation clips are utterances,
already trimmed by the VAD in preprocessing; gating them again could only cut speech at low SNR)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from whisper_pipeline.device import pick_device
from whisper_pipeline.serving.backends.guards import DEFAULT_GUARDS, Guards, collapse_text_loops
from whisper_pipeline.serving.backends.hf_guards import features_of, guarded_decode, retry_token_budget, score_texts
from whisper_pipeline.serving.backends.windows import WINDOW_S, gated_windows
from whisper_pipeline.training.data import load_audio_16k

SAMPLE_RATE = 16000
MAX_NEW_TOKENS = 200


class WhisperTranscriber:
    def __init__(self, model_path: str, device: str | None = None, guards: Guards = DEFAULT_GUARDS):
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        self.device = pick_device(device)
        self.processor = WhisperProcessor.from_pretrained(model_path)
        self.model = WhisperForConditionalGeneration.from_pretrained(model_path).to(self.device).eval()
        self.guards = guards

    def transcribe(
        self,
        audio_paths: list[str],
        language: str,
        batch_size: int = 8,
        num_beams: int = 1,
        progress: Callable[[int, int], None] | None = None,
        guards: Guards | None = None,
    ) -> list[str]:
        guards = guards or self.guards
        texts: list[str] = []
        for start in range(0, len(audio_paths), batch_size):
            clips = [load_audio_16k(p) for p in audio_paths[start : start + batch_size]]
            texts += self.transcribe_audio(clips, language, batch_size, num_beams, guards)
            if progress:
                progress(len(texts), len(audio_paths))
        return texts

    def transcribe_audio(
        self,
        clips: list[np.ndarray],
        language: str,
        batch_size: int = 8,
        num_beams: int = 1,
        guards: Guards | None = None,
    ) -> list[str]:
        """The text of each 16 kHz clip, of any length."""
        guards = guards or self.guards
        owner, windows = [], []
        for k, clip in enumerate(clips):
            bounds = gated_windows(clip, guards) if clip.size > WINDOW_S * SAMPLE_RATE else [(0, clip.size)]
            owner += [k] * len(bounds)
            windows += [clip[a:b] for a, b in bounds]
        decoded = self._decode_windows(windows, language, batch_size, num_beams, guards)
        parts: list[list[str]] = [[] for _ in clips]
        for k, text in zip(owner, decoded):
            if text:
                parts[k].append(text)
        return [collapse_text_loops(" ".join(p), guards.max_repeats) for p in parts]

    def _decode_windows(
        self, windows: list[np.ndarray], language: str, batch_size: int, num_beams: int, guards: Guards
    ) -> list[str]:
        import torch

        def in_batches(indices: list[int], run: Callable[[list[int]], list]) -> list:
            out = []
            for k in range(0, len(indices), batch_size):
                out += run(indices[k : k + batch_size])
            return out

        def generate(part: list[int], temperature: float) -> list[str]:
            feats = features_of(self.processor.feature_extractor, [windows[i] for i in part])
            if temperature > 0:  # a retry: sampled, and no longer than the audio could hold
                seconds = max(windows[i].size for i in part) / SAMPLE_RATE
                options = {"do_sample": True, "temperature": temperature, "num_beams": 1}
                options["max_new_tokens"] = retry_token_budget(seconds, MAX_NEW_TOKENS)
            else:
                options = {"do_sample": False, "num_beams": num_beams, "max_new_tokens": MAX_NEW_TOKENS}
            with torch.inference_mode():
                ids = self.model.generate(feats.to(self.device), language=language, task="transcribe", **options)
            return [t.strip() for t in self.processor.batch_decode(ids, skip_special_tokens=True)]

        def decode(indices: list[int], temperature: float) -> list[str]:
            return in_batches(indices, lambda part: generate(part, temperature))

        def score(indices: list[int], texts: list[str]) -> list[tuple[float, float]]:
            by_index = dict(zip(indices, texts))

            def run(part: list[int]) -> list[tuple[float, float]]:
                feats = features_of(self.processor.feature_extractor, [windows[i] for i in part])
                return score_texts(self.model, self.processor.tokenizer, feats, [by_index[i] for i in part], language)

            return in_batches(indices, run)

        if not windows:
            return []
        return [r or "" for r in guarded_decode(decode, lambda t: t, score, len(windows), guards)]
