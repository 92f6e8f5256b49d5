"""Forced alignment of known transcripts to audio (word timestamps) with stable-ts."""
