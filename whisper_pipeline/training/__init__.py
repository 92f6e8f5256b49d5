"""Fine-tuning Whisper with transformers' Seq2SeqTrainer (no Dagster here)."""
