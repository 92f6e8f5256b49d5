"""Harvesting remote audio (and subtitles) with yt-dlp into the uploads layout, with provenance."""
