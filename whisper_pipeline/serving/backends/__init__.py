"""Inference backends behind one small interface (``base.Backend``): faster-whisper on a CTranslate2
export (``ct2``), the default wherever a model has one, and ``transformers`` through stable-ts for any
checkpoint. Which one a model gets is decided here."""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache
from pathlib import Path

from whisper_pipeline.io import file_lock
from whisper_pipeline.models.registry import ct2_export
from whisper_pipeline.serving.backends.base import BACKENDS, Backend

__all__ = ["BACKENDS", "Backend", "choose_backend", "ct2_model_of", "export_on_load", "load_backend"]

log = logging.getLogger(__name__)

# how models/source.py names a transformers copy it converted from a CTranslate2 directory
CONVERTED = re.compile(r"^(?P<source>.+)-hf-(?P<digest>[0-9a-f]{16})-v\d+$")


def ct2_model_of(path: str | Path) -> Path | None:
    """The CTranslate2 model to serve ``path`` with: its own export (``ct2/``, written at promotion), or
    the CTranslate2 directory it was converted from (the built-in whisper-base is a CT2 model; its
    transformers copy is named after it and the digest of its ``model.bin``, which is checked)."""
    path = Path(path)
    if not path.is_dir():
        return None  # a hub id
    return ct2_export(path) or _converted_from(str(path.resolve()))


@lru_cache(maxsize=64)
def _converted_from(path: str) -> Path | None:
    match = CONVERTED.match(Path(path).name)
    if not match:
        return None
    source = Path(path).parent / match["source"]
    if not ((source / "model.bin").is_file() and (source / "tokenizer.json").is_file()):
        return None
    digest = hashlib.sha256()
    with open(source / "model.bin", "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return source if digest.hexdigest()[:16] == match["digest"] else None


def choose_backend(path: str, backend: str = "auto", export: bool = True) -> tuple[str, Path | None]:
    """(``ct2`` and the CT2 model directory) or (``transformers``, None) for the model at ``path``.
    A local model without a CT2 export gets one on first load (``export_on_load``), unless ``export`` is
    False: ``auto`` then serves it on CT2, or on ``transformers`` with a logged warning when the export
    fails (a read-only directory, a model CTranslate2 cannot convert); ``ct2`` lets the failure raise.
    A hub id has no export: ``auto`` serves it on ``transformers``, ``ct2`` refuses it."""
    if backend == "transformers":
        return "transformers", None
    found = ct2_model_of(path)
    if found is not None:
        return "ct2", found
    if not Path(path).is_dir():
        if backend == "auto":
            return "transformers", None
        raise ValueError(f"{path}: not a local model directory, so it has no CTranslate2 export (--backend ct2)")
    if not export:
        return ("ct2", None) if backend == "ct2" else ("transformers", None)
    if backend == "ct2":
        return "ct2", export_on_load(Path(path))
    try:
        return "ct2", export_on_load(Path(path))
    except Exception as exc:  # noqa: BLE001 - any failure to export leaves the transformers path
        log.warning("%s: no CTranslate2 export and exporting one failed (%s); serving it with transformers", path, exc)
        return "transformers", None


def export_on_load(path: Path) -> Path:
    """The CT2 export of the model at ``path``, written into its ``ct2/`` subdirectory if it has none.
    Under a file lock beside it, so two processes loading the same model at once export it once (the
    second finds the first's export when it gets the lock); the export itself is built in a temporary
    directory and renamed into place (``export_ct2``), so no reader ever sees half of one, and a failed
    export leaves nothing behind."""
    from whisper_pipeline.training.package import export_ct2
    from whisper_pipeline.workspace import RUN_CT2

    lock = path / RUN_CT2
    try:
        with file_lock(lock):
            found = ct2_model_of(path)
            if found is None:
                log.info("%s: exporting to CTranslate2 for faster-whisper (once; float16 weights)", path)
                found = export_ct2(path, quantization="float16")
            return found
    finally:
        if not (path / RUN_CT2).exists():
            Path(str(lock) + ".lock").unlink(missing_ok=True)  # a failed export leaves no lock file either


def load_backend(
    path: str,
    kind: str,
    ct2_dir: Path | None,
    device: str | None,
    batch_size: int,
    compute_type: str = "auto",
    cpu_threads: int | None = None,
) -> Backend:
    """Load the model at ``path`` on backend ``kind``."""
    import os

    from whisper_pipeline.device import pick_device

    device = pick_device(device)
    if kind == "ct2":
        from whisper_pipeline.serving.backends.ct2_backend import CT2Backend, generation_language

        threads = cpu_threads or len(os.sched_getaffinity(0))
        ct2_device, _, index = device.partition(":")
        return CT2Backend(
            ct2_dir, ct2_device, compute_type, threads, language=generation_language(path), device_index=int(index or 0)
        )
    from whisper_pipeline.serving.backends.transformers_backend import TransformersBackend

    if cpu_threads:
        import torch

        torch.set_num_threads(cpu_threads)
    return TransformersBackend(path, device, batch_size)
