"""The evaluation dashboard in a real headless browser (Debian chromium driven by Playwright)."""

import pytest

from whisper_pipeline.audio.preprocess import PreprocessOptions, process_one
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.evaluation.dashboard import build_dashboard
from whisper_pipeline.evaluation.report import evaluate_models
from whisper_pipeline_tests.conftest import CHROMIUM_ARGS as ARGS
from whisper_pipeline_tests.conftest import espeak_wav


@pytest.fixture(scope="module")
def evals(tmp_path_factory, tiny_model_dir):
    d = tmp_path_factory.mktemp("dash")
    out = {}
    for lang, texts in {
        "hr": ["Dobar dan.", "Kiša pada cijeli dan."],
        "sr": ["Laku noć.", "Voz kasni pola sata."],
    }.items():
        lines = []
        for i, text in enumerate(texts):
            wav = d / f"{lang}{i}.wav"
            process_one(
                str(espeak_wav(text, lang, d / f"raw{lang}{i}.wav")), str(wav), PreprocessOptions(trim_silence=False)
            )
            lines.append(
                ManifestLine(
                    id=f"{lang}-u{i}",
                    audio=str(wav),
                    transcript=text,
                    duration=1.5 + i,
                    language=lang,
                    speaker=f"{lang}_spk{i % 2}",
                    split="test",
                )
            )
        out[lang] = evaluate_models(
            {"finetuned": tiny_model_dir, "base": tiny_model_dir}, lines, lang, batch_size=2, device="cpu"
        )
    return out


def test_page_loads_offline_without_errors_and_charts_render(evals, tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    page_path = build_dashboard(evals, "tiny", tmp_path / "reports" / "tiny")
    assert (tmp_path / "reports" / "tiny" / "summary.png").stat().st_size > 5000
    html_text = page_path.read_text()
    assert "<script src=" not in html_text, "self-contained: scripts inlined (the browser check below sees no requests)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if r.url.startswith("http") else None)
        page.goto(page_path.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6")  # all drawn
        assert errors == [] and requests == []
        assert page.locator(".js-plotly-plot").count() == 6
        assert (
            page.locator(
                ".js-plotly-plot .bars .point, .js-plotly-plot .heatmaplayer, .js-plotly-plot .scatterlayer .point"
            ).count()
            > 4
        )
        assert page.locator("#utterances audio").count() == 4
        src = page.locator("#utterances audio").first.get_attribute("src")
        assert not src.startswith("/") and (page_path.parent / src).resolve().is_file(), (
            "audio paths are relative and resolve"
        )
        page.fill("#search", "sr-u1")
        visible = [r for r in page.locator("#utterances tr").all()[1:] if r.is_visible()]
        assert len(visible) == 1
        page.fill("#search", "")
        shot = tmp_path / "shot.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01, "the screenshot is not blank"


@pytest.fixture(scope="module")
def robust(evals, tiny_model_dir):
    """hr again, scored under a noise at two SNRs, babble and the telephone channel (sr: clean only)."""
    lines = [
        ManifestLine(
            id=r["id"],
            audio=r["audio"],
            transcript=r["reference"],
            duration=r["duration"],
            language="hr",
            speaker=r["speaker"],
            split="test",
        )
        for r in evals["hr"]["per_utterance"]
    ]
    conditions = ["pink_20db", "pink_5db", "babble_10db", "telephone"]
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64-wide model gains nothing from threads; on a busy machine they wait on each other
    try:
        hr = evaluate_models(
            {"finetuned": tiny_model_dir, "base": tiny_model_dir},
            lines,
            "hr",
            batch_size=2,
            device="cpu",
            conditions=conditions,
            babble_from=lines,
        )
    finally:
        torch.set_num_threads(threads)
    return {"hr": hr, "sr": evals["sr"]}


def test_robustness_charts_render_in_the_browser(robust, tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    page_path = build_dashboard(robust, "tiny", tmp_path / "reports" / "tiny")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 8")
        assert errors == []
        assert page.locator(".js-plotly-plot").count() == 8, "6 charts + 2 robustness charts for hr (sr has none)"
        titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
        assert any(t.startswith("Robustness (hr): WER against SNR") for t in titles), titles
        snr = page.locator(".js-plotly-plot", has_text="WER against SNR")
        # finetuned and base × pink and babble: 4 lines; pink has 2 SNRs + clean, babble 1 + clean
        assert snr.locator(".scatterlayer .trace").count() == 4
        assert snr.locator(".scatterlayer .point").count() == 2 * (3 + 2)
        assert snr.locator(".xtick text").all_text_contents()[-1] == "clean"
        bars = page.locator(".js-plotly-plot", has_text="reverberation, telephone")
        assert bars.locator(".bars .point").count() == 2 * 2, "clean and telephone, per model"
        rows = page.locator("#robustness tr").all_text_contents()
        assert len(rows) == 1 + 5 + 1 and any("telephone" in r for r in rows), "hr: clean + 4; sr: clean"
        shot = tmp_path / "robustness.png"
        page.locator("#robustness-section").scroll_into_view_if_needed()
        snr.screenshot(path=str(shot))
        browser.close()
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 5 and (pixels < 128).mean() > 0.002, "the robustness chart is not blank"


def test_the_readme_screenshot_script_captures_the_robustness_block(robust, tmp_path, chromium):
    """``scripts/screenshot_dashboard.py`` (which took docs/robustness.png) on a dashboard with conditions."""
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    from whisper_pipeline.workspace import REPO_ROOT

    page_path = build_dashboard(robust, "tiny", tmp_path / "reports" / "tiny")
    shot = tmp_path / "robustness.png"
    script = REPO_ROOT / "scripts" / "screenshot_dashboard.py"
    subprocess.run([sys.executable, str(script), str(page_path), str(shot)], check=True, timeout=180)
    image = Image.open(shot)
    pixels = np.asarray(image.convert("L"), dtype=float)
    assert image.height > 600 and pixels.std() > 5, "the table and both robustness charts, not a heading alone"
    clean = build_dashboard({k: {**v, "conditions": {}} for k, v in robust.items()}, "c", tmp_path / "clean")
    failed = subprocess.run([sys.executable, str(script), str(clean), str(tmp_path / "x.png")], capture_output=True)
    assert failed.returncode != 0 and b"no robustness charts" in failed.stderr
