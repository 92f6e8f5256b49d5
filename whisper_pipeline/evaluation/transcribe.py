"""Batched greedy (or beam) transcription with a transformers Whisper model."""

from __future__ import annotations

from collections.abc import Callable

from whisper_pipeline.device import pick_device
from whisper_pipeline.training.data import load_audio_16k


class WhisperTranscriber:
    def __init__(self, model_path: str, device: str | None = None):
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        self.device = pick_device(device)
        self.processor = WhisperProcessor.from_pretrained(model_path)
        self.model = WhisperForConditionalGeneration.from_pretrained(model_path).to(self.device).eval()

    def transcribe(
        self,
        audio_paths: list[str],
        language: str,
        batch_size: int = 8,
        num_beams: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[str]:
        import torch

        texts: list[str] = []
        for start in range(0, len(audio_paths), batch_size):
            chunk = [load_audio_16k(p) for p in audio_paths[start : start + batch_size]]
            feats = self.processor.feature_extractor(chunk, sampling_rate=16000, return_tensors="pt").input_features
            with torch.inference_mode():
                ids = self.model.generate(
                    feats.to(self.device),
                    language=language,
                    task="transcribe",
                    num_beams=num_beams,
                    do_sample=False,
                    max_new_tokens=200,
                )
            texts += [t.strip() for t in self.processor.batch_decode(ids, skip_special_tokens=True)]
            if progress:
                progress(len(texts), len(audio_paths))
        return texts
