"""Transcribing a test split and scoring it with jiwer (no Dagster here)."""
