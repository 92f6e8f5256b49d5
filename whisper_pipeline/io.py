"""Atomic, crash-safe file writes: write to a temp file in the same directory, then rename."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_MARK = ".part-"  # in every temp file's name: ``.<name>.<host>-<pid namespace>-<pid>.part-XXXXXXXX<suffix>``
STALE_TEMP_AGE_S = 24 * 3600  # a temp file of another machine's writer is left alone until this old
TEMP_NAME_CHARS = 80  # of the target's name kept in its temp's name (the rest of the temp name is ~50-110)
_RANDOM_PART = re.compile(r"[a-z0-9_]{8}")  # what tempfile.mkstemp puts after the prefix


def _pid_namespace() -> int:
    """Which process-ID namespace this process is in (containers sharing a host name have different ones), 0
    where there is no /proc (macOS, Windows)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path next to ``path``; it replaces ``path`` only if the block succeeds. The temp's name
    says which host, container and process write it, so ``sweep_stale_temps`` can remove what a killed writer
    left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = f"{socket.gethostname()}-{_pid_namespace()}-{os.getpid()}"
    prefix = f".{path.name[:TEMP_NAME_CHARS]}.{owner}{TEMP_MARK}"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_writer(name: str) -> tuple[str, int, int] | None:
    """(``.<name>.<host>``, pid namespace, pid) from the name of an ``atomic_path`` temp file; None when the name
    is not one (a user's hidden file, anything else). Host names may hold dots and dashes: the caller checks its
    own with ``endswith``."""
    head, mark, tail = name.rpartition(TEMP_MARK)
    if not mark or not name.startswith(".") or not _RANDOM_PART.match(tail):
        return None
    parts = head.rsplit("-", 2)
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()) or "." not in parts[0][1:]:
        return None
    return parts[0], int(parts[1]), int(parts[2])


def sweep_stale_temps(folder: str | Path, max_age_s: float = STALE_TEMP_AGE_S) -> int:
    """Remove the temp files ``atomic_path`` left in ``folder`` (not below it) when its process was killed
    (SIGKILL, OOM: its cleanup never ran): those of a process of this host and container that no longer runs,
    and any older than ``max_age_s`` (a writer on another machine, e.g. a Ray worker on a shared file system).
    A live writer's temp, and any file not named like one, is never touched. Returns how many were removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    host, namespace = socket.gethostname(), _pid_namespace()
    now, removed = time.time(), 0
    with os.scandir(folder) as entries:
        for entry in entries:
            writer = temp_writer(entry.name)
            if writer is None or not entry.is_file(follow_symlinks=False):
                continue
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > max_age_s
            except FileNotFoundError:  # its writer renamed it just now
                continue
            ours = writer[0].endswith(f".{host}") and writer[1] == namespace
            if old or (ours and not _process_alive(writer[2])):
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C there: leave it to the age rule
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON line ({exc.msg})") from exc
    return rows


def write_csv(path: str | Path, rows: list[dict], fieldnames: list[str]) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return Path(path)


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """An advisory lock, so partitions running in parallel can rebuild a shared summary safely."""
    lock = Path(str(path) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
