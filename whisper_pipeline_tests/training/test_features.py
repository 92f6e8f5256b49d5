"""On-device log-mel features (``training/features.py``) against ``WhisperFeatureExtractor`` on real espeak-ng
speech, and a training run fed by them against one fed by the loader's features."""

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import TrainerCallback

from whisper_pipeline.training.data import SpeechSeq2SeqCollator
from whisper_pipeline.training.features import LogMel, pad_or_trim, resolve_feature_device
from whisper_pipeline_tests.conftest import espeak_16k

TOLERANCE = 1e-5  # the extractor's own stated agreement between its numpy and torch paths
LONG_TEXT = " ".join(["Dobar dan, kako ste danas? Kiša pada cijeli dan, a sunce sija iza oblaka."] * 8)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, np.ndarray]:
    """Clips of several lengths: short, exactly 30 s, over 30 s (truncated), and a quiet one (its own floor)."""
    d = tmp_path_factory.mktemp("log-mel")
    long, sr = sf.read(espeak_16k(LONG_TEXT, "hr", d / "long.wav"), dtype="float32")
    short, _ = sf.read(espeak_16k("Laku noć.", "hr", d / "short.wav"), dtype="float32")
    assert sr == 16000 and len(long) > 31 * sr, "the long clip must run past the 30 s window"
    return {
        "short": short,
        "exactly_30s": long[: 30 * sr],
        "over_30s": long,
        "quiet_7s": long[: 7 * sr] * 0.05,
    }


@pytest.mark.parametrize("n_mels", [80, 128])
def test_batched_log_mel_matches_the_feature_extractor(speech, n_mels):
    from transformers import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor(feature_size=n_mels)
    log_mel = LogMel.from_feature_extractor(extractor)
    clips = list(speech.values())
    batch = torch.from_numpy(np.stack([pad_or_trim(c, extractor.n_samples) for c in clips]))
    ours = log_mel(batch).numpy()
    assert ours.shape == (len(clips), n_mels, 3000) and ours.dtype == np.float32
    for name, clip, got in zip(speech, clips, ours):
        alone = extractor(clip, sampling_rate=16000, return_tensors="np").input_features[0]
        np.testing.assert_allclose(got, alone, atol=TOLERANCE, rtol=0, err_msg=name)
    # the quiet clip's floor is its own maximum − 8, not the batch's: a shared floor would lift it
    quiet = ours[list(speech).index("quiet_7s")]
    assert quiet.max() < ours.max() - 0.5, "the quiet clip must be quieter than the batch for this check to bite"
    assert quiet.min() == pytest.approx(quiet.max() - 2.0, abs=TOLERANCE), "its floor: its own maximum − 8 (÷ 4)"


def test_unpadded_audio_is_padded_or_cut_to_the_window(speech):
    from transformers import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor()
    log_mel = LogMel.from_feature_extractor(extractor)
    short = torch.from_numpy(speech["short"])[None]
    over = torch.from_numpy(speech["over_30s"])[None]
    np.testing.assert_allclose(
        log_mel(short).numpy()[0],
        extractor(speech["short"], sampling_rate=16000, return_tensors="np").input_features[0],
        atol=TOLERANCE,
        rtol=0,
    )
    assert log_mel(over).shape == (1, 80, 3000)


def test_log_mel_stays_float32_under_autocast(speech):
    from transformers import WhisperFeatureExtractor

    log_mel = LogMel.from_feature_extractor(WhisperFeatureExtractor())
    batch = torch.from_numpy(pad_or_trim(speech["short"], 480000))[None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = log_mel(batch)
    assert inside.dtype == torch.float32
    assert torch.equal(inside, log_mel(batch))


def test_collator_pads_audio_to_30_s_and_the_setting_resolves():
    collate = SpeechSeq2SeqCollator(pad_token_id=50257, decoder_start_token_id=50258)
    batch = collate(
        [
            {"input_audio": np.ones(16000, np.float32), "labels": [50258, 1, 50257]},
            {"input_audio": np.ones(500000, np.float32), "labels": [50258, 2, 3, 50257]},
        ]
    )
    assert set(batch) == {"input_audio", "labels"} and batch["input_audio"].shape == (2, 480000)
    assert batch["input_audio"][0, 16000:].abs().sum() == 0 and bool((batch["input_audio"][1] == 1).all())
    assert resolve_feature_device("auto", "cuda") == "device" and resolve_feature_device("auto", "cuda:1") == "device"
    assert resolve_feature_device("auto", "cpu") == "loader" and resolve_feature_device("device", "cpu") == "device"
    with pytest.raises(ValueError, match="feature_device 'gpu'"):
        resolve_feature_device("gpu", "cuda")
    with pytest.raises(ValueError, match="mono"):
        pad_or_trim(np.zeros((2, 100), np.float32), 480000)


class EncoderInputs(TrainerCallback):
    """Records what the encoder is fed (the features after SpecAugment) during training."""

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        def record(module, inputs):
            if module.training:
                self.seen.append(inputs[0].detach().clone())

        model.get_encoder().register_forward_pre_hook(record)


class Recipe(TrainerCallback):
    """What the trainer really runs with (the README's claims): attention kernel, optimizer, compilation."""

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps it
        self.seen = {
            "attention": model.config._attn_implementation,
            "optimizer": type(inner).__name__,
            "fused": inner.defaults.get("fused"),
            "torch_compile": args.torch_compile,
        }


def test_training_on_device_features_matches_loader_features(tiny_model_dir, manifest, tmp_path):
    """Same tiny model, data, seed: the encoder gets the same features, and the losses of the first steps and the
    evaluation (decoding each sample in its language, predict_with_generate) agree, whichever side computes them."""
    from whisper_pipeline.data.manifests import read_lines
    from whisper_pipeline.training.settings import TrainSettings
    from whisper_pipeline.training.train import train_whisper

    rows = read_lines(manifest)
    runs, inputs, recipes = {}, {}, {}
    for features in ("loader", "device"):
        settings = TrainSettings(
            run_name=features,
            max_steps=2,
            batch_size=2,
            learning_rate=1e-3,
            logging_steps=1,
            eval_steps=2,
            warmup_ratio=0.0,
            generation_max_length=8,
            feature_device=features,
        )
        inputs[features], recipes[features] = EncoderInputs(), Recipe()
        runs[features] = train_whisper(
            tiny_model_dir,
            rows[:4],
            rows[4:],
            tmp_path / features,
            settings,
            device="cpu",
            extra_callbacks=[inputs[features], recipes[features]],
        )
    for recipe in recipes.values():
        assert recipe.seen == {"attention": "sdpa", "optimizer": "AdamW", "fused": True, "torch_compile": False}
    loader, device = runs["loader"], runs["device"]
    assert (loader["features"], device["features"]) == ("loader", "device")
    assert len(inputs["device"].seen) == len(inputs["loader"].seen) == 2
    for got, want in zip(inputs["device"].seen, inputs["loader"].seen):
        assert got.shape == want.shape == (2, 80, 3000)
        torch.testing.assert_close(got, want, atol=TOLERANCE, rtol=0)

    def losses(run):
        return [h["loss"] for h in run["history"] if "loss" in h]

    assert len(losses(loader)) == 2
    np.testing.assert_allclose(losses(device), losses(loader), rtol=1e-5)
    assert device["validation_loss"] == pytest.approx(loader["validation_loss"], rel=1e-5)
    assert device["validation_wer"] == loader["validation_wer"]


def test_augmented_audio_from_the_loader_gives_the_loader_features(tiny_model_dir, manifest):
    """With augmentation on, the worker still augments the waveform; the device's features of that audio are the
    features the loader path computes from the same draw."""
    from transformers import WhisperProcessor

    from whisper_pipeline.audio.augment import Augmenter, load_augment_config
    from whisper_pipeline.data.manifests import read_lines
    from whisper_pipeline.training.data import make_dataset

    processor = WhisperProcessor.from_pretrained(tiny_model_dir)
    rows = read_lines(manifest)[:2]
    config = load_augment_config()
    config = config.model_copy(update={"noise": config.noise.model_copy(update={"p": 1.0})})
    loader, _ = make_dataset(rows, processor, 448, Augmenter(config), "loader")
    device, _ = make_dataset(rows, processor, 448, Augmenter(config), "device")
    plain, _ = make_dataset(rows, processor, 448, None, "device")
    collate = SpeechSeq2SeqCollator(processor.tokenizer.pad_token_id, 50258)
    log_mel = LogMel.from_feature_extractor(processor.feature_extractor)
    want = np.stack([loader[i]["input_features"] for i in range(2)])
    got = log_mel(collate([device[i] for i in range(2)])["input_audio"]).numpy()
    np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)
    assert not np.allclose(log_mel(collate([plain[i] for i in range(2)])["input_audio"]).numpy(), want, atol=1e-3)
