"""Screenshot the evaluation dashboard's robustness section in Debian chromium (the README's docs/robustness.png).

    .venv/bin/python scripts/screenshot_dashboard.py data/workspace/reports/run1/index.html docs/robustness.png

Waits until every Plotly chart has drawn, then captures the robustness section (table and charts) alone.
Fails when the page logs an error or has no robustness charts (evaluated without ``conditions``)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def screenshot(page_path: Path, out: Path, width: int = 1300) -> Path:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("Debian chromium is needed (scripts/setup.sh installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.resolve().as_uri())
            charts = page.locator(".js-plotly-plot").count()
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}")
            section = page.locator("#robustness-block")
            if section.count() == 0 or section.locator(".js-plotly-plot").count() == 0:
                raise SystemExit(f"{page_path}: no robustness charts (was eval_report run with conditions?)")
            if errors:
                raise SystemExit(f"{page_path}: the page logged errors: {errors}")
            out.parent.mkdir(parents=True, exist_ok=True)
            section.screenshot(path=str(out))
        finally:
            browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", type=Path, help="a dashboard's index.html (reports/<run>/index.html)")
    ap.add_argument("out", type=Path, help="the PNG to write")
    args = ap.parse_args()
    print(screenshot(args.page, args.out))


if __name__ == "__main__":
    main()
