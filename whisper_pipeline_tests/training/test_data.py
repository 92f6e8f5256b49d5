import numpy as np
import torch

from whisper_pipeline.training.data import SpeechSeq2SeqCollator, label_ids


def test_labels_carry_each_samples_language(tiny_model_dir):
    from transformers import WhisperProcessor

    tok = WhisperProcessor.from_pretrained(tiny_model_dir).tokenizer
    hr = label_ids(tok, "Dobar dan.", "hr")
    sr = label_ids(tok, "Dobar dan.", "sr")
    ids = lambda *t: tok.convert_tokens_to_ids(list(t))  # noqa: E731
    assert hr[:4] == ids("<|startoftranscript|>", "<|hr|>", "<|transcribe|>", "<|notimestamps|>")
    assert sr[1] == ids("<|sr|>")[0] and hr[4:] == sr[4:]
    assert hr[-1] == tok.eos_token_id
    assert tok.decode(hr, skip_special_tokens=True).strip() == "Dobar dan."


def test_collator_pads_with_minus_100_and_drops_start_token():
    collate = SpeechSeq2SeqCollator(pad_token_id=50257, decoder_start_token_id=50258)
    batch = collate([
        {"input_features": np.zeros((80, 3000), np.float32), "labels": [50258, 1, 2, 3, 50257]},
        {"input_features": np.ones((80, 3000), np.float32), "labels": [50258, 4, 50257]},
    ])
    assert batch["input_features"].shape == (2, 80, 3000)
    assert batch["labels"].tolist() == [[1, 2, 3, 50257], [4, 50257, -100, -100]]
    assert batch["labels"].dtype == torch.long
