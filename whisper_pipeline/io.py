"""Atomic, crash-safe file writes: write to a temp file in the same directory, then rename."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_MARK = ".part-"  # in every temp file's name: ``.<name>.<host>-<pid>.part-XXXXXXXX<suffix>``
STALE_TEMP_AGE_S = 24 * 3600  # a temp file of another machine's writer is left alone until this old


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path next to ``path``; it replaces ``path`` only if the block succeeds. The temp's name
    says which host and process write it, so ``sweep_stale_temps`` can remove what a killed writer left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{socket.gethostname()}-{os.getpid()}{TEMP_MARK}"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_stale_temps(folder: str | Path, max_age_s: float = STALE_TEMP_AGE_S) -> int:
    """Remove the temp files ``atomic_path`` left in ``folder`` (not below it) when its process was killed
    (SIGKILL, OOM: its cleanup never ran): those of a process of this host that no longer runs, and any
    older than ``max_age_s`` (a writer on another machine, e.g. a Ray worker on a shared file system).
    A live writer's temp is never touched. Returns how many were removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    host, now, removed = socket.gethostname(), time.time(), 0
    with os.scandir(folder) as entries:
        for entry in entries:
            head, mark, _ = entry.name.rpartition(TEMP_MARK)
            if not mark or not entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            owner, _, pid = head.rpartition("-")
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > max_age_s
            except FileNotFoundError:  # its writer renamed it just now
                continue
            gone = owner.endswith(f".{host}") and pid.isdigit() and not _process_alive(int(pid))
            if old or gone:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def _process_alive(pid: int) -> bool:
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
