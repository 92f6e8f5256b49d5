"""Copy checkpoints and the final model to object storage through fsspec (``s3://…``, ``gs://…``, …).

Credentials and endpoints come from the environment, never from the repo: for S3 the usual
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_ENDPOINT_URL`` (an S3-compatible server such
as MinIO), for GCS ``GOOGLE_APPLICATION_CREDENTIALS``. A folder is uploaded file by file and marked
complete last (``_COMPLETE``), so a reader never mistakes a half-copied checkpoint for a finished one.
"""

from __future__ import annotations

import os
from pathlib import Path

COMPLETE_MARKER = "_COMPLETE"


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
        fs.put_file(str(path), remote)
        uploaded.append(remote)
    fs.pipe_file(f"{root}/{COMPLETE_MARKER}", b"")
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
