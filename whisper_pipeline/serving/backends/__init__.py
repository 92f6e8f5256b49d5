"""Inference backends behind one small interface (``base.Backend``): faster-whisper on a CTranslate2
export (``ct2``), the default wherever a model has one, and ``transformers`` through stable-ts for any
checkpoint. Which one a model gets is decided here."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from whisper_pipeline.io import file_lock
from whisper_pipeline.models.registry import ct2_export
from whisper_pipeline.serving.backends.base import BACKENDS, Backend

__all__ = ["BACKENDS", "Backend", "choose_backend", "ct2_model_of", "load_backend"]

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
    ``auto``: CT2 when there is a CT2 model. ``ct2``: a model without one is exported first (into its
    ``ct2/`` subdirectory, under a lock, once), unless ``export`` is False."""
    if backend == "transformers":
        return "transformers", None
    found = ct2_model_of(path)
    if found is not None:
        return "ct2", found
    if backend == "auto":
        return "transformers", None
    if not Path(path).is_dir():
        raise ValueError(f"{path}: not a local model directory, so it has no CTranslate2 export (--backend ct2)")
    if not export:
        return "ct2", None
    from whisper_pipeline.training.package import export_ct2
    from whisper_pipeline.workspace import RUN_CT2

    with file_lock(Path(path) / RUN_CT2):
        found = ct2_model_of(path) or export_ct2(Path(path), quantization="float16")
    return "ct2", found


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
