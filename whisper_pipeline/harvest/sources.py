"""``configs/sources.yaml``: what to harvest. Validated up front, errors name the file and entry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from whisper_pipeline.workspace import CONFIGS, LANGUAGES

COOKIES_ENV = "WHISPER_PIPELINE_COOKIES_FILE"


class Source(BaseModel, extra="forbid"):
    url: str
    language: str
    speaker: str = Field(default="per_video", description="A speaker id, or 'per_video' (one speaker per item)")
    license: str = "unknown"
    use_subtitles: bool = True

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"only http(s) URLs are harvested, got {url!r}")
        return url

    @field_validator("language")
    @classmethod
    def _known_language(cls, lang: str) -> str:
        if lang not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {lang!r}")
        return lang


class HarvestSettings(BaseModel, extra="forbid"):
    rate_limit_bytes_per_s: int | None = Field(default=None, description="Download speed cap (None: unlimited)")
    sleep_between_items_s: float = 0.0
    retries: int = 3
    backoff_s: float = 2.0
    max_duration_s: float = 4 * 3600
    max_filesize_mb: float = 2000
    cookies_file: str | None = Field(default=None, description=f"Netscape cookies file; or set ${COOKIES_ENV}")

    def cookies(self) -> str | None:
        return self.cookies_file or os.environ.get(COOKIES_ENV) or None


class SourcesFile(BaseModel, extra="forbid"):
    settings: HarvestSettings = HarvestSettings()
    sources: list[Source] = []


@dataclass
class HarvestOptions:
    """Whether the intake harvests before inventorying, and which sources file it reads (the file's own
    ``settings`` are ``HarvestSettings``)."""

    harvest: bool = field(default=True, metadata={"help": "Download new items from the sources file first"})
    sources_file: str = field(default=str(CONFIGS / "sources.yaml"), metadata={"help": "yt-dlp sources (YAML)"})


class SourcesError(ValueError):
    pass


def load_sources(path: str | Path) -> SourcesFile:
    """Parse and validate; a missing file means nothing to harvest."""
    path = Path(path)
    if not path.is_file():
        return SourcesFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return SourcesFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SourcesError(f"{path}: {problems}") from exc
