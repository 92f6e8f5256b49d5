"""Browser tests skip where chromium is missing on a laptop, but fail under CI=true."""

import pytest

from whisper_pipeline_tests.ci_required import PATH_WITHOUT_SYSTEM_TOOLS, run_test_file


@pytest.mark.parametrize("ci,outcome", [("true", "1 error"), ("", "1 skipped")])
def test_missing_chromium_fails_only_on_ci(tmp_path, ci, outcome):
    (tmp_path / "test_browser.py").write_text(
        "from whisper_pipeline_tests.conftest import chromium  # noqa: F401  (the fixture)\n\n"
        "def test_page(chromium):\n    assert chromium\n"
    )
    out = run_test_file(tmp_path / "test_browser.py", ci, PATH=PATH_WITHOUT_SYSTEM_TOOLS)
    assert outcome in out, out[-2000:]
    if ci:
        assert "chromium is not installed, and CI=true" in out
