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
from whisper_pipeline.serving.backends.hf_guards import (
    features_of,
    guarded_decode,
    loop_stop,
    retry_token_budget,
    score_texts,
)
from whisper_pipeline.serving.backends.windows import WINDOW_S, gated_windows
from whisper_pipeline.training.data import load_audio_16k

SAMPLE_RATE = 16000
MAX_NEW_TOKENS = 200


def by_duration(audio_paths: list[str]) -> list[int]:
    """Indices of ``audio_paths``, longest file first (ties in the given order), read from the files' headers.
    A file whose header cannot be read counts as empty: loading it reports the problem as before."""
    import soundfile as sf

    def frames(path: str) -> int:
        try:
            return sf.info(path).frames
        except Exception:  # noqa: BLE001 - any unreadable header; load_audio_16k says what is wrong
            return 0

    lengths = [frames(p) for p in audio_paths]
    return sorted(range(len(audio_paths)), key=lambda i: -lengths[i])


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
        """The text of each file, in the order given. The files are decoded longest first, ``batch_size`` at a time
        (``by_duration``): a batch's clips then end at about the same token, so fewer decoder steps go to clips
        already finished, and a sampled retry's token budget (the batch's longest clip) is closer to each clip's.
        A greedy text does not depend on the batch its clip is in (each row is decoded on its own 30 s features;
        tested equal to one file at a time); a sampled retry (guards) draws from one seeded stream per batch, so
        its text can depend on the batch's other clips, as it did before in file order."""
        guards = guards or self.guards
        order = by_duration(audio_paths)
        texts: list[str | None] = [None] * len(audio_paths)
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            clips = [load_audio_16k(audio_paths[i]) for i in part]
            for i, text in zip(part, self.transcribe_audio(clips, language, batch_size, num_beams, guards)):
                texts[i] = text
            if progress:
                progress(min(start + batch_size, len(order)), len(audio_paths))
        return [t or "" for t in texts]

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

        open_ended: set[int] = set()  # windows whose latest decode loop_stop cut off mid-loop

        def generate(part: list[int], temperature: float) -> list[str]:
            feats = features_of(self.processor.feature_extractor, [windows[i] for i in part])
            if temperature > 0:  # a retry: sampled, and no longer than the audio could hold
                seconds = max(windows[i].size for i in part) / SAMPLE_RATE
                options = {"do_sample": True, "temperature": temperature, "num_beams": 1}
                options["max_new_tokens"] = retry_token_budget(seconds, MAX_NEW_TOKENS)
            else:
                options = {"do_sample": False, "num_beams": num_beams, "max_new_tokens": MAX_NEW_TOKENS}
            stop = loop_stop(self.processor.tokenizer, guards.compression_ratio_threshold)  # a loop is retried
            if stop is not None and len(guards.temperatures or ()) > 1 and options["num_beams"] == 1:
                options["stopping_criteria"] = stop
            with torch.inference_mode():
                ids = self.model.generate(feats.to(self.device), language=language, task="transcribe", **options)
            stopped = options["stopping_criteria"][0].stopped if "stopping_criteria" in options else set()
            open_ended.difference_update(part)
            open_ended.update(part[row] for row in stopped)
            return [t.strip() for t in self.processor.batch_decode(ids, skip_special_tokens=True)]

        def decode(indices: list[int], temperature: float) -> list[str]:
            return in_batches(indices, lambda part: generate(part, temperature))

        def score(indices: list[int], texts: list[str]) -> list[tuple[float, float]]:
            by_index = dict(zip(indices, texts))

            def run(part: list[int]) -> list[tuple[float, float]]:
                feats = features_of(self.processor.feature_extractor, [windows[i] for i in part])
                texts, ended = [by_index[i] for i in part], [i not in open_ended for i in part]
                return score_texts(self.model, self.processor.tokenizer, feats, texts, language, ended)

            return in_batches(indices, run)

        if not windows:
            return []
        return [r or "" for r in guarded_decode(decode, lambda t: t, score, len(windows), guards)]
