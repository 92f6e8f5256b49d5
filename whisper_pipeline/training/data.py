"""Turn manifest lines into model inputs: log-mel features (or the 16 kHz audio they are made from, when the
training step computes them on the device: ``features.py``) and labels with the sample's own language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
import torch

from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.training.features import pad_or_trim


def label_ids(tokenizer, text: str, language: str) -> list[int]:
    """``<|startoftranscript|><|lang|><|transcribe|><|notimestamps|> text <|endoftext|>``.

    Built explicitly rather than with ``set_prefix_tokens``, which mutates a shared tokenizer
    and would race when samples of different languages are encoded together.
    """
    prefix = tokenizer.convert_tokens_to_ids(
        ["<|startoftranscript|>", f"<|{language}|>", "<|transcribe|>", "<|notimestamps|>"]
    )
    body = tokenizer(" " + text.strip(), add_special_tokens=False).input_ids
    return prefix + body + [tokenizer.eos_token_id]


def load_audio_16k(path: str) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float32", always_2d=False)
    if sr != 16000:
        raise ValueError(f"{path}: expected 16 kHz processed audio, found {sr} Hz")
    return audio if audio.ndim == 1 else audio.mean(axis=1)


def make_dataset(rows: list[ManifestLine], processor, max_label_length: int, augmenter=None, features: str = "loader"):
    """A ``datasets.Dataset`` that computes features lazily; over-long labels are dropped and counted.

    With an ``augmenter`` (``audio/augment.py``) each sample's audio is augmented on the fly, seeded by
    its id and how often it has been seen, so every epoch hears a different, reproducible version.
    ``features="device"``: samples carry their (augmented) audio as ``input_audio`` instead of
    ``input_features``; the collator pads it to 30 s and the trainer makes the features on its device."""
    if features not in ("loader", "device"):
        raise ValueError(f"features {features!r}: use loader or device")
    from datasets import Dataset

    kept, dropped = [], []
    for r in rows:
        ids = label_ids(processor.tokenizer, r.transcript, r.language)
        if len(ids) <= max_label_length:
            kept.append({"id": r.id, "audio": r.audio, "labels": ids, "language": r.language, "length": len(ids)})
        else:
            dropped.append(r.id)
    ds = Dataset.from_list(kept)

    def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        audio = [load_audio_16k(p) for p in batch["audio"]]
        if augmenter is not None:
            audio = [augmenter(a, key) for a, key in zip(audio, batch["id"])]
        if features == "device":
            return {"input_audio": audio, "labels": batch["labels"]}
        feats = processor.feature_extractor(audio, sampling_rate=16000, return_tensors="np").input_features
        return {"input_features": list(feats), "labels": batch["labels"]}

    return ds.with_transform(transform), dropped


@dataclass
class SpeechSeq2SeqCollator:
    """Pads labels with -100 and drops the start token the model prepends itself; audio samples
    (``input_audio``) are zero-padded or cut to ``n_samples`` (30 s), as the feature extractor would."""

    pad_token_id: int
    decoder_start_token_id: int
    n_samples: int = 480000

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if "input_audio" in features[0]:
            key = "input_audio"
            inputs = torch.from_numpy(np.stack([pad_or_trim(f["input_audio"], self.n_samples) for f in features]))
        else:
            key = "input_features"
            inputs = torch.tensor(np.stack([f["input_features"] for f in features]), dtype=torch.float32)
        longest = max(len(f["labels"]) for f in features)
        labels = torch.full((len(features), longest), -100, dtype=torch.long)
        for i, f in enumerate(features):
            labels[i, : len(f["labels"])] = torch.tensor(f["labels"])
        if bool((labels[:, 0] == self.decoder_start_token_id).all()):
            labels = labels[:, 1:]
        return {key: inputs, "labels": labels}
