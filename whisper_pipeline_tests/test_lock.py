"""requirements.lock agrees with pyproject.toml, carries hashes, and matches the installed environment."""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from whisper_pipeline import lockfile


def lock_problems(lock: Path, pyproject: Path) -> list[str]:
    """Every way the lock disagrees with pyproject (empty when they agree)."""
    problems = []
    digest, pins = lockfile.read_lock(lock)
    if digest != lockfile.pyproject_digest(pyproject):
        problems.append(f"{lock}: compiled from other pyproject.toml dependencies than today's; run make lock")
    for req in lockfile.project_requirements(pyproject):
        variants = pins.get(canonicalize_name(req.name), [])
        if not variants:
            problems.append(f"{req}: not in {lock.name}; run make lock")
        for pin in variants:
            if not req.specifier.contains(pin.version, prereleases=True):
                problems.append(f"{req}: {lock.name} line {pin.line} pins {pin.version}; run make lock")
    for variants in pins.values():
        for pin in variants:
            if not pin.hashes:
                problems.append(f"{lock.name} line {pin.line}: {pin.name}=={pin.version} has no --hash")
    return problems


def test_lock_agrees_with_pyproject():
    assert lock_problems(lockfile.LOCK_PATH, lockfile.PYPROJECT_PATH) == []


def test_lock_pins_torch_with_its_cuda_wheels_on_linux():
    _, pins = lockfile.read_lock()
    assert [p.version for p in pins["torch"]] == ["2.11.0"]
    assert any(name.startswith("nvidia-") and "linux" in v[0].marker for name, v in pins.items())
    assert all(len(p.hashes) >= 1 for v in pins.values() for p in v)


@pytest.fixture
def project_copy(tmp_path: Path) -> tuple[Path, Path]:
    lock, pyproject = tmp_path / "requirements.lock", tmp_path / "pyproject.toml"
    shutil.copyfile(lockfile.LOCK_PATH, lock)
    shutil.copyfile(lockfile.PYPROJECT_PATH, pyproject)
    return lock, pyproject


def test_a_dependency_added_without_relocking_fails(project_copy):
    lock, pyproject = project_copy
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "whisper-pipeline-missing-dep>=1",\n', 1)
    )
    problems = lock_problems(lock, pyproject)
    assert any("run make lock" in p and "other pyproject.toml dependencies" in p for p in problems)
    assert any(p.startswith("whisper-pipeline-missing-dep>=1: not in requirements.lock") for p in problems)


def test_a_pin_outside_the_range_or_without_hashes_fails(project_copy):
    lock, pyproject = project_copy
    text = lock.read_text()
    assert "\ntorch==2.11.0 \\\n" in text
    text = text.replace("\ntorch==2.11.0 \\\n", "\ntorch==2.10.0 \\\n")
    # strip the hashes of the first package (absl-py) by cutting its continuation lines
    start = text.index("\nabsl-py==")
    end = text.index("    # via", start)
    text = text[:start] + "\nabsl-py==2.5.1\n" + text[end:]
    lock.write_text(text)
    problems = lock_problems(lock, pyproject)
    assert any(p.startswith("torch==2.11.0: requirements.lock line") and "pins 2.10.0" in p for p in problems)
    assert any("absl-py==2.5.1 has no --hash" in p for p in problems)


def test_installed_environment_matches_the_lock():
    """The pyproject packages installed here are the locked versions (else: `make setup` after `make lock`)."""
    _, pins = lockfile.read_lock()
    drift = []
    for req in lockfile.project_requirements():
        name = canonicalize_name(req.name)
        locked = {p.version for p in pins.get(name, [])}
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed not in locked:
            drift.append(f"{name}: installed {installed}, locked {sorted(locked)}")
    assert drift == [], "the environment differs from requirements.lock; run make setup"
