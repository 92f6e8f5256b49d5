"""Download audio (and manual subtitles) for configured sources with the yt-dlp Python API.

Each item lands in the input layout, ``uploads/<lang>/<speaker>/<extractor>-<id>.<ext>``, with
- ``<stem>.txt``: the transcript from the source-language subtitles (when asked for and present),
- ``<stem>.cues.json``: the subtitle cues with their timings (for segmenting long recordings later),
- ``<stem>.source.json``: provenance (URL, uploader/channel, title, licence, time, extractor, id).
A download archive makes re-runs fetch nothing twice; a failing source or item is reported and the
others go on. Nothing existing is overwritten.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from whisper_pipeline.harvest.sources import HarvestSettings, Source, SourcesFile
from whisper_pipeline.harvest.subtitles import cues_to_text, read_subtitles
from whisper_pipeline.io import write_json, write_text

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class HarvestedItem:
    source_url: str
    status: str  # downloaded | already_downloaded | filtered | failed
    audio: str = ""
    transcript: str = ""
    subtitles: str = ""
    extractor: str = ""
    item_id: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class _Log:
    """Collects yt-dlp's messages instead of printing them (they go to Dagster logs and reports)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.filtered: list[str] = []

    def debug(self, msg: str) -> None:
        if "does not pass filter" in msg or "larger than max-filesize" in msg or "smaller than min-filesize" in msg:
            self.filtered.append(msg.replace("[download] ", "").strip())

    info = debug

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        self.errors.append(re.sub(r"\x1b\[[0-9;]*m", "", msg))


def subtitle_languages(lang: str) -> list[str]:
    """The language itself, its regional/script variants (sr-Latn, hr-HR) and Serbo-Croatian."""
    return [lang, f"{lang}[-_].*", "sh", "hbs"]


def _ydl_options(source: Source, settings: HarvestSettings, uploads: Path, archive: Path, log: _Log) -> dict:
    from yt_dlp.utils import match_filter_func

    speaker = "%(extractor)s-%(id)s" if source.speaker == "per_video" else _UNSAFE.sub("_", source.speaker)
    opts = {
        "format": "bestaudio/best",
        "outtmpl": str(uploads / source.language / speaker / "%(extractor)s-%(id)s.%(ext)s"),
        "restrictfilenames": True,
        "download_archive": str(archive),
        "overwrites": False,
        "writesubtitles": source.use_subtitles,
        "writeautomaticsub": False,  # manual subtitles only: automatic ones are another model's guess
        "subtitleslangs": subtitle_languages(source.language),
        "subtitlesformat": "vtt/srt/best",
        "postprocessors": [{"key": "FFmpegExtractAudio", "preferredcodec": "best"}],
        "match_filter": match_filter_func(f"duration <=? {settings.max_duration_s}"),
        "max_filesize": int(settings.max_filesize_mb * 1024 * 1024),
        "retries": settings.retries,
        "fragment_retries": settings.retries,
        "retry_sleep_functions": {"http": lambda n: settings.backoff_s * 2**n},
        "sleep_interval": settings.sleep_between_items_s or None,
        "ratelimit": settings.rate_limit_bytes_per_s,
        "noplaylist": False,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": log,
    }
    if settings.cookies():
        opts["cookiefile"] = settings.cookies()
    return opts


def _finish_item(entry: dict, source: Source) -> HarvestedItem:
    """Write transcript, cues and provenance next to one downloaded file."""
    downloads = entry.get("requested_downloads") or []
    audio = Path(downloads[0]["filepath"]) if downloads and downloads[0].get("filepath") else None
    item = HarvestedItem(
        source.url,
        "downloaded",
        extractor=entry.get("extractor_key") or entry.get("extractor", ""),
        item_id=str(entry.get("id", "")),
    )
    if audio is None or not audio.is_file():
        item.status, item.reason = "failed", "yt-dlp reported no downloaded file"
        return item
    item.audio = str(audio)
    subs = entry.get("requested_subtitles") or {}
    sub_path = next(
        (Path(s["filepath"]) for s in subs.values() if s.get("filepath") and Path(s["filepath"]).is_file()), None
    )
    if sub_path is not None:
        cues = read_subtitles(sub_path)
        item.subtitles = str(sub_path)
        if cues:
            write_json(audio.with_suffix(".cues.json"), {"subtitles": str(sub_path), "cues": cues})
            transcript = audio.with_suffix(".txt")
            if not transcript.exists():
                write_text(transcript, cues_to_text(cues) + "\n")
            item.transcript = str(transcript)
    write_json(
        audio.with_suffix(".source.json"),
        {
            "source_url": source.url,
            "webpage_url": entry.get("webpage_url"),
            "original_url": entry.get("original_url"),
            "title": entry.get("title"),
            "uploader": entry.get("uploader"),
            "channel": entry.get("channel"),
            "license": entry.get("license") or source.license,
            "configured_license": source.license,
            "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "extractor": entry.get("extractor"),
            "extractor_key": entry.get("extractor_key"),
            "id": entry.get("id"),
            "duration": entry.get("duration"),
            "language": source.language,
            "speaker": source.speaker,
            "subtitles": item.subtitles or None,
        },
    )
    return item


def harvest_source(source: Source, settings: HarvestSettings, uploads: Path, archive: Path) -> list[HarvestedItem]:
    """Download one configured URL (a video, a playlist or a channel); never raises for remote failures."""
    import yt_dlp

    last_error = ""
    for attempt in range(settings.retries + 1):
        log = _Log()
        items: list[HarvestedItem] = []
        try:
            with yt_dlp.YoutubeDL(_ydl_options(source, settings, uploads, archive, log)) as ydl:
                info = ydl.extract_info(source.url, download=True)
                entries = (
                    [] if info is None else (info.get("entries") or []) if info.get("_type") == "playlist" else [info]
                )
                for entry in filter(None, entries):
                    key = dict(extractor=entry.get("extractor_key", ""), item_id=str(entry.get("id", "")))
                    if entry.get("requested_downloads"):
                        item = _finish_item(entry, source)
                        if item.status == "failed" and log.filtered:
                            item.status, item.reason = "filtered", log.filtered[-1]
                        items.append(item)
                    elif ydl.in_download_archive(entry):
                        items.append(HarvestedItem(source.url, "already_downloaded", **key))
                    else:
                        reason = next(
                            (m for m in log.filtered if str(entry.get("id")) in m or str(entry.get("title")) in m), ""
                        )
                        items.append(
                            HarvestedItem(
                                source.url, "filtered" if reason else "failed", reason=reason or "not downloaded", **key
                            )
                        )
        except yt_dlp.utils.DownloadError as exc:
            last_error = log.errors[-1] if log.errors else str(exc)
            if "Unsupported URL" in last_error or "HTTP Error 404" in last_error or attempt == settings.retries:
                break
            time.sleep(settings.backoff_s * 2**attempt)
            continue
        items += [HarvestedItem(source.url, "failed", reason=e) for e in log.errors]
        return items
    return [HarvestedItem(source.url, "failed", reason=last_error or "download failed")]


def harvest(
    config: SourcesFile, uploads: str | Path, archive: str | Path, language: str | None = None
) -> list[HarvestedItem]:
    """Harvest every source (of ``language``, if given); results per item, failures included."""
    uploads, archive = Path(uploads), Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    results: list[HarvestedItem] = []
    for source in config.sources:
        if language is None or source.language == language:
            results += harvest_source(source, config.settings, uploads, archive)
    return results


def append_harvest_log(path: str | Path, items: list[HarvestedItem], run_id: str) -> Path:
    """One JSON line per harvested item (``run_id`` first), appended: the log of every harvest run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        for item in items:
            log.write(json.dumps({"run_id": run_id, **item.as_dict()}, ensure_ascii=False) + "\n")
    return path
