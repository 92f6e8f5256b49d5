import numpy as np
import torch

from whisper_pipeline.training.data import SpeechSeq2SeqCollator, label_ids


def test_labels_carry_each_samples_language(tiny_model_dir):
    from transformers import WhisperProcessor

    tok = WhisperProcessor.from_pretrained(tiny_model_dir).tokenizer
    hr = label_ids(tok, "Dobar dan.", "hr")
    sr = label_ids(tok, "Dobar dan.", "sr")

    def ids(*t):
        return tok.convert_tokens_to_ids(list(t))

    assert hr[:4] == ids("<|startoftranscript|>", "<|hr|>", "<|transcribe|>", "<|notimestamps|>")
    assert sr[1] == ids("<|sr|>")[0] and hr[4:] == sr[4:]
    assert hr[-1] == tok.eos_token_id
    assert tok.decode(hr, skip_special_tokens=True).strip() == "Dobar dan."


def test_collator_pads_with_minus_100_and_drops_start_token():
    collate = SpeechSeq2SeqCollator(pad_token_id=50257, decoder_start_token_id=50258)
    batch = collate(
        [
            {
                "input_features": np.zeros((80, 3000), np.float32),
                "labels": [50258, 1, 2, 3, 50257],
            },
            {
                "input_features": np.ones((80, 3000), np.float32),
                "labels": [50258, 4, 50257],
            },
        ]
    )
    assert batch["input_features"].shape == (2, 80, 3000)
    assert batch["labels"].tolist() == [[1, 2, 3, 50257], [4, 50257, -100, -100]]
    assert batch["labels"].dtype == torch.long


def test_on_the_fly_augmentation_differs_per_epoch_and_repeats_per_seed(tiny_model_dir, tmp_path):
    from transformers import WhisperProcessor

    from whisper_pipeline.audio.augment import Augmenter, load_augment_config
    from whisper_pipeline.audio.preprocess import PreprocessOptions, process_one
    from whisper_pipeline.data.manifests import ManifestLine
    from whisper_pipeline.training.data import make_dataset
    from whisper_pipeline_tests.conftest import espeak_wav

    processor = WhisperProcessor.from_pretrained(tiny_model_dir)
    process_one(
        str(espeak_wav("Laku noć.", "hr", tmp_path / "a.wav")),
        str(tmp_path / "a16.wav"),
        PreprocessOptions(),
    )
    rows = [
        ManifestLine(
            id="a",
            audio=str(tmp_path / "a16.wav"),
            transcript="Laku noć.",
            duration=1.0,
            language="hr",
            speaker="s",
            split="train",
        )
    ]
    config = load_augment_config()
    config = config.model_copy(update={"noise": config.noise.model_copy(update={"p": 1.0})})

    def epochs(augmenter):
        ds, _ = make_dataset(rows, processor, 448, augmenter)
        return [np.asarray(ds[0]["input_features"]) for _ in range(2)]

    plain = epochs(None)
    first, again = epochs(Augmenter(config)), epochs(Augmenter(config))
    assert np.array_equal(plain[0], plain[1])
    assert not np.allclose(first[0], first[1]), "a new draw each time the sample is read"
    assert all(np.array_equal(x, y) for x, y in zip(first, again)), "reproducible with the same seed"
    assert not np.allclose(first[0], plain[0])
