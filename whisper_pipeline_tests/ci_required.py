"""Helper for the "a missing tool skips on a laptop but fails under CI=true" tests: run one generated test
file in a fresh pytest process."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# a PATH without /usr/bin: shutil.which finds no Debian tool (chromium, shellcheck) there
PATH_WITHOUT_SYSTEM_TOOLS = str(Path(sys.executable).parent)


def run_test_file(test_file: Path, ci: str, **env: str) -> str:
    """pytest's output for ``test_file`` run with ``CI=ci`` (and ``env``), the repository importable."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=test_file.parent,
        env={**os.environ, "CI": ci, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.stdout
