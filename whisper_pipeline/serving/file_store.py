"""The service's file store (``POST /files``): uploads kept once per content under the workspace, named by
their SHA-256, which is the ``file_id`` clients use afterwards.

An upload is received into ``files/incoming/`` (hashed as it arrives), checked by the caller's ``inspect``
(it must decode as audio), and only then moved into the store and added to the index; anything that
fails on the way leaves no file behind. A ``file_id`` is only ever looked up in the index after matching
the hash form: no path is built from what a client sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from whisper_pipeline.io import file_lock, write_json
from whisper_pipeline.workspace import Workspace

FILE_ID = re.compile(r"[0-9a-f]{64}")  # a SHA-256 in hex, the only form a file_id takes


@dataclass(frozen=True)
class AudioInfo:
    """What ``inspect`` learnt from an upload: how long it is and how to serve it back."""

    duration: float
    format: str  # ffprobe's format name, e.g. "wav", "mp3", "ogg"
    media_type: str  # for GET /files/<id>/audio


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    filename: str  # the client's name, cleaned (display only; never part of a path)
    bytes: int
    duration: float
    format: str
    media_type: str
    created: str  # ISO 8601 UTC

    def as_dict(self) -> dict:
        return asdict(self)


class StoreError(RuntimeError):
    """The store itself is unusable (an index that is not JSON): names the file and the problem."""


class StoreFull(RuntimeError):
    """A new upload would take the store past its size limit; the message says how full it is."""


class FileStore:
    """Thread- and process-safe: the index is rewritten atomically under a file lock."""

    def __init__(self, ws: Workspace, max_bytes: int | None = None):
        self.ws = ws
        self.max_bytes = max_bytes  # the stored uploads together; None: no limit
        self._lock = threading.Lock()  # flock is per open file; this keeps threads of one process in order too

    def put(
        self,
        chunks: Iterable[bytes],
        filename: str,
        inspect: Callable[[Path], AudioInfo],
        suffix: str = "",
    ) -> tuple[StoredFile, bool]:
        """Store the bytes of one upload; (its record, whether it is new). Same content → same ``file_id``,
        stored once (the first name is kept). ``inspect`` gets the received file and raises when it is not
        usable audio; then, as for any other failure, nothing is kept. ``suffix`` is a plain extension
        (a hint for ffmpeg) given to the received file only."""
        incoming = self.ws.file_store_incoming
        incoming.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=incoming)
        staged = Path(name)
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            file_id = digest.hexdigest()
            if not self.get(file_id):
                self._check_room(self._read_index(), size, filename)  # before the work of inspecting it
            info = inspect(staged)
            with self._lock, file_lock(self.ws.file_store_index):
                index = self._read_index()
                target = self.ws.stored_audio(file_id)
                if file_id in index and target.is_file():
                    return self._record(file_id, index[file_id]), False
                self._check_room(index, size, filename)  # again under the lock: another upload may have landed
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
                entry = {
                    "filename": filename,
                    "bytes": size,
                    "duration": round(info.duration, 3),
                    "format": info.format,
                    "media_type": info.media_type,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                try:
                    write_json(self.ws.file_store_index, {**index, file_id: entry})
                except BaseException:
                    target.unlink(missing_ok=True)
                    raise
                return self._record(file_id, entry), True
        finally:
            staged.unlink(missing_ok=True)

    def delete(self, file_id: str) -> StoredFile | None:
        """Take ``file_id`` out of the index and delete its bytes; the record it had, or None when it is
        not stored. (What the service wrote for it under ``outputs/`` is the caller's.)"""
        with self._lock, file_lock(self.ws.file_store_index):
            found = self.get(file_id)
            if found is None:
                return None
            index = self._read_index()
            index.pop(found.file_id, None)
            write_json(self.ws.file_store_index, index)
            self.ws.stored_audio(found.file_id).unlink(missing_ok=True)
            return found

    def used_bytes(self, index: dict[str, dict] | None = None) -> int:
        """What the stored uploads take together (from the index)."""
        index = self._read_index() if index is None else index
        return sum(int(e.get("bytes", 0)) for k, e in index.items() if FILE_ID.fullmatch(k))

    def _check_room(self, index: dict[str, dict], size: int, filename: str) -> None:
        if self.max_bytes is None:
            return
        used = self.used_bytes(index)
        if used + size > self.max_bytes:
            raise StoreFull(
                f"{filename}: the file store is full ({used / 1e9:.2f} of {self.max_bytes / 1e9:g} GB used, "
                f"this upload needs {size / 1e6:.1f} MB); DELETE /files/<file_id> what is no longer needed, "
                f"or raise --max-store-gb"
            )

    def get(self, file_id: str) -> StoredFile | None:
        """The stored file called ``file_id``; None for anything else (another form, or not stored)."""
        if not isinstance(file_id, str) or not FILE_ID.fullmatch(file_id):
            return None
        entry = self._read_index().get(file_id)
        return self._record(file_id, entry) if entry and self.ws.stored_audio(file_id).is_file() else None

    def audio_path(self, stored: StoredFile) -> Path:
        """Where a stored file's bytes are (takes a record from ``get``, not a client's id)."""
        return self.ws.stored_audio(stored.file_id)

    def list(self) -> list[StoredFile]:
        """Every stored file, newest first."""
        index = self._read_index()
        found = [self._record(k, v) for k, v in index.items() if FILE_ID.fullmatch(k)]
        return sorted(found, key=lambda f: (f.created, f.file_id), reverse=True)

    def _read_index(self) -> dict[str, dict]:
        path = self.ws.file_store_index
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path}: the file store's index is not JSON ({exc})") from exc
        if not isinstance(index, dict):
            raise StoreError(f"{path}: the file store's index is not a JSON object")
        return index

    @staticmethod
    def _record(file_id: str, entry: dict) -> StoredFile:
        return StoredFile(
            file_id=file_id,
            filename=str(entry.get("filename", "")),
            bytes=int(entry.get("bytes", 0)),
            duration=float(entry.get("duration", 0.0)),
            format=str(entry.get("format", "")),
            media_type=str(entry.get("media_type", "application/octet-stream")),
            created=str(entry.get("created", "")),
        )
