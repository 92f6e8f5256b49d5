"""``requirements.lock``: the exact, hashed dependency set that set-up and CI install.

``pyproject.toml`` keeps ranges for people who install the package into their own environment; the lock pins what
the team tests. ``make lock`` (``python -m whisper_pipeline.lockfile``) compiles it with uv and writes a header
recording a digest of pyproject's dependency lists, so a dependency added without re-locking is caught by
``whisper_pipeline_tests/test_lock.py`` (and reported by ``python -m whisper_pipeline.doctor``).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from whisper_pipeline.workspace import REPO_ROOT

LOCK_PATH = REPO_ROOT / "requirements.lock"
PYPROJECT_PATH = REPO_ROOT / "pyproject.toml"
EXTRAS = ("test",)
DIGEST_PREFIX = "# pyproject-digest: sha256:"

# Universal: one lock for Linux (PyPI's CUDA torch + nvidia-* wheels), Windows and macOS; markers pick per platform.
UV_ARGS = [
    "pip",
    "compile",
    "pyproject.toml",
    *(a for extra in EXTRAS for a in ("--extra", extra)),
    "--generate-hashes",
    "--universal",
    "--python-version",
    "3.11",
    "--no-config",  # a personal uv.toml must not change the team's lock
    "--custom-compile-command",
    "make lock",
]

HEADER = """\
# requirements.lock: the exact version and SHA-256 hashes of every dependency of whisper-pipeline
# (pyproject.toml's dependencies + the `test` extra). scripts/setup.sh and CI install it with
#   pip install --require-hashes -r requirements.lock && pip install --no-deps -e .
# Do not edit by hand: after changing pyproject.toml run `make lock` (keeps every other pin), or
# `make lock UPGRADE=1` to move every package to its newest allowed release. It runs:
#   uv {args}
# Universal lock (--universal): one file for Linux x86_64/aarch64 (PyPI's CUDA torch with its nvidia-* wheels),
# Windows and macOS (PyPI's CPU/MPS torch); environment markers choose per platform, Python >= 3.11.
"""


class LockError(RuntimeError):
    pass


def project_requirements(pyproject: Path = PYPROJECT_PATH) -> list[Requirement]:
    """pyproject's dependencies plus the locked extras, as parsed requirements."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    for extra in EXTRAS:
        lines += project.get("optional-dependencies", {}).get(extra, [])
    return [Requirement(line) for line in lines]


def pyproject_digest(pyproject: Path = PYPROJECT_PATH) -> str:
    """A digest of what the lock was compiled from (order and comments in pyproject don't matter)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    canonical = sorted(str(r) for r in project_requirements(pyproject))
    canonical.append(f"requires-python {project.get('requires-python', '')}")
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()


@dataclass
class Pin:
    """One locked package: ``name==version ; marker`` with its hashes."""

    name: str
    version: str
    marker: str
    hashes: list[str] = field(default_factory=list)
    line: int = 0


_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]*))?"
)


def read_lock(path: Path = LOCK_PATH) -> tuple[str | None, dict[str, list[Pin]]]:
    """The recorded pyproject digest and the pins by canonical name (one name may have several marker variants)."""
    if not path.is_file():
        raise LockError(f"{path}: missing; run `make lock`")
    digest = None
    pins: dict[str, list[Pin]] = {}
    current: Pin | None = None
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if line.startswith(DIGEST_PREFIX):
            digest = line[len(DIGEST_PREFIX) :].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            if current is None:
                raise LockError(f"{path}:{lineno}: a hash without a package line")
            current.hashes.append(line.removeprefix("--hash=").rstrip(" \\"))
            continue
        match = _PIN.match(line)
        if not match:
            raise LockError(f"{path}:{lineno}: not a pinned `name==version` line: {line!r}")
        current = Pin(canonicalize_name(match["name"]), match["version"], (match["marker"] or "").strip(), line=lineno)
        pins.setdefault(current.name, []).append(current)
    return digest, pins


def compile_lock(upgrade: bool = False, lock: Path = LOCK_PATH) -> Path:
    """Run uv (keeping existing pins as preferences unless ``upgrade``) and write the lock with its header."""
    from whisper_pipeline.io import write_text  # POSIX-only (fcntl); reading the lock works on Windows too

    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise LockError("uv not found; it is in the test extra (`make setup`)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "requirements.lock"
        if lock.is_file() and not upgrade:
            shutil.copyfile(lock, out)  # uv prefers the versions already in its output file
        args = [*UV_ARGS, *(["--upgrade"] if upgrade else []), "--quiet", "-o", str(out)]
        proc = subprocess.run([uv, *args], cwd=PYPROJECT_PATH.parent, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LockError(f"uv pip compile failed:\n{proc.stderr.strip()}")
        body = out.read_text(encoding="utf-8")
    shown = " ".join(a if " " not in a else repr(a) for a in UV_ARGS)
    header = HEADER.format(args=shown) + f"{DIGEST_PREFIX}{pyproject_digest()}\n"
    return write_text(lock, header + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="move every package to its newest allowed release")
    args = parser.parse_args(argv)
    try:
        path = compile_lock(upgrade=args.upgrade)
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _, pins = read_lock(path)
    print(f"{path}: {sum(len(v) for v in pins.values())} pinned packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
