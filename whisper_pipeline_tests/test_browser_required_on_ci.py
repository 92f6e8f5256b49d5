"""Browser tests skip where chromium is missing on a laptop, but fail under CI=true."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("ci,outcome", [("true", "1 error"), ("", "1 skipped")])
def test_missing_chromium_fails_only_on_ci(tmp_path, ci, outcome):
    (tmp_path / "test_browser.py").write_text(
        "from whisper_pipeline_tests.conftest import chromium  # noqa: F401  (the fixture)\n\n"
        "def test_page(chromium):\n    assert chromium\n"
    )
    no_chromium = str(Path(sys.executable).parent)  # a PATH without /usr/bin: shutil.which finds no chromium
    env = {**os.environ, "CI": ci, "PATH": no_chromium, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_browser.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in proc.stdout, proc.stdout[-2000:]
    if ci:
        assert "chromium is not installed, and CI=true" in proc.stdout
