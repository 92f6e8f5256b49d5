"""Serving: an HTTP API that transcribes (or aligns a known text) with any trained model, with word
timestamps and SRT/VTT/karaoke-LRC output. ``python -m whisper_pipeline.serving`` starts it."""
