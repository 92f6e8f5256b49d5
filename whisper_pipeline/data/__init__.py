"""Dataset intake: discovering uploads, inventory, dedupe, normalization and splits (no Dagster here)."""
