"""Audio decoding, probing and conversion through ffmpeg (any format it reads)."""
