"""Copy checkpoints and the final model to object storage through fsspec (``s3://…``, ``gs://…``, …).

Credentials and endpoints come from the environment, never from the repo: for S3 the usual
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_ENDPOINT_URL`` (an S3-compatible server such
as MinIO), for GCS ``GOOGLE_APPLICATION_CREDENTIALS``. A folder is uploaded file by file and marked
complete last (``_COMPLETE``), so a reader never mistakes a half-copied checkpoint for a finished one.

The copies run inside the training process, so a Dagster retry policy cannot retry one file: each copy is
retried here (``with_retries``: a few attempts, exponential backoff) when the error looks transient
(connection reset, timeout, a 5xx turned ``OSError``); a missing file or a refused credential is not. When
every attempt fails the training process fails, and the ``checkpoint`` asset's retry policy starts it
again, which resumes from the newest checkpoint.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

COMPLETE_MARKER = "_COMPLETE"
COPY_ATTEMPTS = 4
COPY_FIRST_DELAY_S = 2.0
PERMANENT_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
T = TypeVar("T")
log = logging.getLogger(__name__)


def _transient_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConnectionError, TimeoutError, OSError]
    try:  # botocore's connection errors (endpoint unreachable, read timeout) are not OSErrors
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError

        types += [BotoConnectionError, HTTPClientError]
    except ImportError:
        pass
    return tuple(types)


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: connection and timeout errors (botocore's too), and other ``OSError``s (s3fs
    and gcsfs raise those for 5xx answers and throttling), but not a missing file or refused access."""
    return isinstance(exc, _transient_types()) and not isinstance(exc, PERMANENT_ERRORS)


def with_retries(
    action: Callable[[], T],
    what: str,
    attempts: int = COPY_ATTEMPTS,
    first_delay_s: float = COPY_FIRST_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``action()``, tried up to ``attempts`` times while it fails transiently, waiting ``first_delay_s``,
    then twice as long each time; the last error is raised with ``what`` and the attempt count."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if not is_transient(exc) or attempt == attempts:
                if attempt > 1:
                    raise OSError(f"{what}: failed after {attempt} attempts: {exc}") from exc
                raise
            delay = first_delay_s * 2 ** (attempt - 1)
            log.warning(f"{what}: {exc} (attempt {attempt}/{attempts}); trying again in {delay:.0f} s")
            sleep(delay)
    raise AssertionError("unreachable")


def _filesystem(url: str):
    import fsspec

    options = {}
    if url.startswith("s3://") and os.environ.get("AWS_ENDPOINT_URL"):
        options["client_kwargs"] = {"endpoint_url": os.environ["AWS_ENDPOINT_URL"]}
    fs, root = fsspec.core.url_to_fs(url, **options)
    return fs, root.rstrip("/")


def upload_dir(local: str | Path, url: str) -> list[str]:
    """Upload every file under ``local`` to ``url`` (same relative layout), then the completion marker."""
    fs, root = _filesystem(url)
    local = Path(local)
    uploaded = []
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        remote = f"{root}/{path.relative_to(local).as_posix()}"
        with_retries(lambda src=str(path), dst=remote: fs.put_file(src, dst), f"copy {path} → {remote}")
        uploaded.append(remote)
    with_retries(lambda: fs.pipe_file(f"{root}/{COMPLETE_MARKER}", b""), f"mark {url} complete")
    return uploaded


def is_complete(url: str) -> bool:
    fs, root = _filesystem(url)
    return fs.exists(f"{root}/{COMPLETE_MARKER}")


def checkpoint_uploader(url: str, run_dir: Path):
    """A ``TrainerCallback`` that copies each checkpoint to ``<url>/checkpoints/<name>`` as it is saved."""
    from transformers import TrainerCallback

    class UploadCheckpoints(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            name = f"checkpoint-{state.global_step}"
            folder = run_dir / "checkpoints" / name
            if folder.is_dir():
                upload_dir(folder, f"{url.rstrip('/')}/checkpoints/{name}")

    return UploadCheckpoints()
