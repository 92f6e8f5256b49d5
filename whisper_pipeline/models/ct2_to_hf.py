"""Convert a CTranslate2 (faster-whisper) Whisper model into a ``transformers`` model.

CTranslate2 fuses the attention projections (Q,K,V for self-attention; K,V for
cross-attention), stores K's missing bias as zeros, and ties the output projection to the
token embedding through an alias. We undo exactly that, so the converted model produces
the same greedy transcripts as faster-whisper on the original files.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import WhisperConfig

import numpy as np

from whisper_pipeline.models.ct2_reader import CT2Model, read_ct2_model


def _count_layers(variables: dict, stack: str) -> int:
    pattern = re.compile(rf"^{stack}/layer_(\d+)/")
    return len({m.group(1) for k in variables if (m := pattern.match(k))})


def _config_from_ct2(model: CT2Model, ct2_config: dict) -> WhisperConfig:
    from transformers import WhisperConfig

    v = model.resolved()
    n_enc = _count_layers(v, "encoder")
    n_dec = _count_layers(v, "decoder")
    vocab_size, d_model = v["decoder/embeddings/weight"].shape
    return WhisperConfig(
        vocab_size=int(vocab_size),
        num_mel_bins=int(v["encoder/conv1/weight"].shape[1]),
        encoder_layers=n_enc,
        decoder_layers=n_dec,
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        d_model=int(d_model),
        encoder_ffn_dim=int(v["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(v["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(v["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(v["decoder/position_encodings/encodings"].shape[0]),
        pad_token_id=50257,
        bos_token_id=50257,
        eos_token_id=50257,
        decoder_start_token_id=50258,
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [220, 50257])),
        tie_word_embeddings=True,
    )


def _state_dict(model: CT2Model, n_enc: int, n_dec: int, d_model: int) -> dict[str, np.ndarray]:
    v = model.resolved()
    for name in v:
        if name.endswith("weight_scale"):
            raise ValueError(
                f"CTranslate2 variable {name!r}: int8-quantized models cannot be converted; "
                "use a float16/float32 export"
            )
    sd: dict[str, np.ndarray] = {}

    def bias(src: str) -> np.ndarray:
        """CTranslate2 leaves out all-zero biases (e.g. of freshly initialised layers)."""
        return v.get(f"{src}/bias", np.zeros(v[f"{src}/weight"].shape[0], dtype=np.float32))

    def linear(dst: str, src: str):
        sd[f"{dst}.weight"] = v[f"{src}/weight"]
        sd[f"{dst}.bias"] = bias(src)

    def norm(dst: str, src: str):
        sd[f"{dst}.weight"] = v[f"{src}/gamma"]
        sd[f"{dst}.bias"] = v[f"{src}/beta"]

    def split_self_attention(dst: str, src: str):
        w, b = v[f"{src}/linear_0/weight"], bias(f"{src}/linear_0")
        sd[f"{dst}.q_proj.weight"], sd[f"{dst}.k_proj.weight"], sd[f"{dst}.v_proj.weight"] = np.split(w, 3)
        qb, _k_bias_zero, vb = np.split(b, 3)
        sd[f"{dst}.q_proj.bias"], sd[f"{dst}.v_proj.bias"] = qb, vb
        linear(f"{dst}.out_proj", f"{src}/linear_1")

    def split_cross_attention(dst: str, src: str):
        linear(f"{dst}.q_proj", f"{src}/linear_0")
        kw, vw = np.split(v[f"{src}/linear_1/weight"], 2)
        _kb, vb = np.split(bias(f"{src}/linear_1"), 2)
        sd[f"{dst}.k_proj.weight"], sd[f"{dst}.v_proj.weight"], sd[f"{dst}.v_proj.bias"] = kw, vw, vb
        linear(f"{dst}.out_proj", f"{src}/linear_2")

    def ffn(dst: str, src: str):
        linear(f"{dst}.fc1", f"{src}/ffn/linear_0")
        linear(f"{dst}.fc2", f"{src}/ffn/linear_1")
        norm(f"{dst}.final_layer_norm", f"{src}/ffn/layer_norm")

    linear("model.encoder.conv1", "encoder/conv1")
    linear("model.encoder.conv2", "encoder/conv2")
    sd["model.encoder.embed_positions.weight"] = v["encoder/position_encodings/encodings"]
    for i in range(n_enc):
        dst, src = f"model.encoder.layers.{i}", f"encoder/layer_{i}"
        split_self_attention(f"{dst}.self_attn", f"{src}/self_attention")
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        ffn(dst, src)
    norm("model.encoder.layer_norm", "encoder/layer_norm")

    sd["model.decoder.embed_tokens.weight"] = v["decoder/embeddings/weight"]
    sd["model.decoder.embed_positions.weight"] = v["decoder/position_encodings/encodings"]
    for i in range(n_dec):
        dst, src = f"model.decoder.layers.{i}", f"decoder/layer_{i}"
        split_self_attention(f"{dst}.self_attn", f"{src}/self_attention")
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        split_cross_attention(f"{dst}.encoder_attn", f"{src}/attention")
        norm(f"{dst}.encoder_attn_layer_norm", f"{src}/attention/layer_norm")
        ffn(dst, src)
    norm("model.decoder.layer_norm", "decoder/layer_norm")
    return sd


def build_generation_config(config, tokenizer, alignment_heads: list[list[int]] | None):
    """Whisper's generation settings, with every special id read from the tokenizer.

    Ids differ between vocabularies (large-v3 has one more language), so nothing is hardcoded.
    """
    from transformers import GenerationConfig

    def token_id(token: str) -> int:
        return tokenizer.convert_tokens_to_ids(token)

    sot, translate = token_id("<|startoftranscript|>"), token_id("<|translate|>")
    lang_to_id = {
        tok: idx
        for tok, idx in tokenizer.get_vocab().items()
        if sot < idx < translate and re.fullmatch(r"<\|[a-z]{2,3}\|>", tok)
    }
    gen = GenerationConfig(
        decoder_start_token_id=sot,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        suppress_tokens=config.suppress_tokens,
        begin_suppress_tokens=config.begin_suppress_tokens,
    )
    gen.is_multilingual = len(lang_to_id) > 1
    gen.lang_to_id = lang_to_id
    gen.task_to_id = {"transcribe": token_id("<|transcribe|>"), "translate": translate}
    gen.no_timestamps_token_id = token_id("<|notimestamps|>")
    gen.prev_sot_token_id = token_id("<|startofprev|>")
    gen.max_initial_timestamp_index = 50
    gen.return_timestamps = False
    if alignment_heads:
        gen.alignment_heads = [list(map(int, h)) for h in alignment_heads]
    return gen


def build_processor(tokenizer_json: Path, num_mel_bins: int):
    """A ``WhisperProcessor`` from the CTranslate2 directory's ``tokenizer.json``."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    tokenizer = WhisperTokenizer(tokenizer_file=str(tokenizer_json))
    if tokenizer.pad_token is None:  # as in OpenAI's own Hugging Face tokenizers: pad with <|endoftext|>
        tokenizer.pad_token = "<|endoftext|>"
    feature_extractor = WhisperFeatureExtractor(feature_size=num_mel_bins)
    return WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer)


def convert_ct2_to_hf(ct2_dir: str | Path, output_dir: str | Path) -> Path:
    """Convert ``ct2_dir`` (model.bin, config.json, tokenizer.json) into ``output_dir``.

    The result is written to a temporary sibling and renamed, so a crash never leaves a
    half-written model that a later run would mistake for a finished conversion.
    """
    import torch
    from transformers import WhisperForConditionalGeneration

    ct2_dir, output_dir = Path(ct2_dir), Path(output_dir)
    model_bin = ct2_dir / "model.bin"
    if not model_bin.is_file():
        raise FileNotFoundError(f"{model_bin}: no CTranslate2 model.bin in {ct2_dir}")
    ct2_config = json.loads((ct2_dir / "config.json").read_text()) if (ct2_dir / "config.json").exists() else {}
    ct2 = read_ct2_model(model_bin)
    if ct2.spec_name != "WhisperSpec":
        raise ValueError(f"{model_bin}: a {ct2.spec_name} model, not a Whisper model")

    config = _config_from_ct2(ct2, ct2_config)
    sd = _state_dict(ct2, config.encoder_layers, config.decoder_layers, config.d_model)
    model = WhisperForConditionalGeneration(config)
    tensors = {k: torch.from_numpy(np.array(a, dtype=np.float32)) for k, a in sd.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith("k_proj.bias") and k != "proj_out.weight"]
    if missing or unexpected:
        raise ValueError(f"{model_bin}: conversion mismatch; missing={missing} unexpected={unexpected}")
    model.tie_weights()
    processor = build_processor(ct2_dir / "tokenizer.json", config.num_mel_bins)
    model.generation_config = build_generation_config(config, processor.tokenizer, ct2_config.get("alignment_heads"))

    tmp = output_dir.with_name(output_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    tmp.rename(output_dir)
    return output_dir
