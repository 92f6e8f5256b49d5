"""``shellcheck`` on every ``scripts/*.sh``: skipped where shellcheck is missing, except under CI=true."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from whisper_pipeline.workspace import REPO_ROOT
from whisper_pipeline_tests.ci_required import PATH_WITHOUT_SYSTEM_TOOLS, run_test_file
from whisper_pipeline_tests.conftest import ON_CI

SCRIPTS = sorted([*(REPO_ROOT / "scripts").glob("*.sh"), *(REPO_ROOT / "bench").glob("*.sh")])


@pytest.fixture(scope="module")
def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found:
        return found
    if ON_CI:
        pytest.fail("shellcheck is not installed, and CI=true: scripts/setup.sh installs it")
    pytest.skip("shellcheck (Debian package shellcheck) is installed by scripts/setup.sh")


def run_shellcheck(shellcheck: str, script: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shellcheck, "--format=gcc", "--external-sources", str(script)],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_script_passes_shellcheck(shellcheck, script):
    proc = run_shellcheck(shellcheck, script)
    assert proc.returncode == 0, f"shellcheck {script.relative_to(REPO_ROOT)}:\n{proc.stdout}{proc.stderr}"


def test_there_are_scripts_to_check():
    assert any(s.name == "setup.sh" for s in SCRIPTS)


def test_shellcheck_catches_a_planted_mistake(shellcheck, tmp_path):
    script = tmp_path / "bad.sh"
    script.write_text("#!/usr/bin/env bash\nrm -rf $1/build\n")  # unquoted: SC2086
    proc = run_shellcheck(shellcheck, script)
    assert proc.returncode != 0 and "SC2086" in proc.stdout


@pytest.mark.parametrize("ci,outcome", [("true", "1 error"), ("", "1 skipped")])
def test_missing_shellcheck_fails_only_on_ci(tmp_path, ci, outcome):
    (tmp_path / "test_no_shellcheck.py").write_text(
        "from whisper_pipeline_tests.test_shell_scripts import shellcheck  # noqa: F401  (the fixture)\n\n"
        "def test_lint(shellcheck):\n    assert shellcheck\n"
    )
    out = run_test_file(tmp_path / "test_no_shellcheck.py", ci, PATH=PATH_WITHOUT_SYSTEM_TOOLS)
    assert outcome in out, out[-2000:]
    if ci:
        assert "shellcheck is not installed, and CI=true" in out
