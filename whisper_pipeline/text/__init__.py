"""Transcript text: reading, normalization and language guessing for Bosnian/Croatian/Serbian."""
