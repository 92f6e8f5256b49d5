"""The karaoke page (``GET /karaoke``) in Debian chromium, against the service started as a process: it loads
with no console error and no request leaving 127.0.0.1, takes an espeak-ng upload, aligns lyrics (tiny model)
or transcribes (the real whisper-base, slow), and after the audio is sought to a word's start time the
highlighted word is that word. ``KARAOKE_SCREENSHOT=docs/karaoke.png`` makes the slow test save the README's
screenshot there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from whisper_pipeline.models.registry import set_latest_run
from whisper_pipeline.sample_data import sentences, speak
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import CHROMIUM_ARGS
from whisper_pipeline_tests.serving.conftest import SENTENCE, start_service, stop

EPSILON = 0.005  # seconds after a word's start: the word has started


class KaraokePage:
    """The page in a fresh chromium, recording console errors and every request it makes."""

    def __init__(self, playwright, chromium: str, url: str):
        self.url = url
        self.browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport={"width": 1180, "height": 700}, accept_downloads=True)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url + "/karaoke")

    def upload(self, clip: Path) -> None:
        from playwright.sync_api import expect

        self.page.set_input_files("#upload", str(clip))
        self.page.click("#upload-btn")
        expect(self.page.locator("#status")).to_contain_text(f"stored {clip.name}", timeout=60_000)
        self.page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=30_000)

    def run(self, model: str, language: str, lyrics: str = "") -> list[tuple[str, float]]:
        """Transcribe (or align ``lyrics``); the words shown, with their start times."""
        from playwright.sync_api import expect

        self.page.fill("#text", lyrics)
        self.page.select_option("#model", model)
        self.page.select_option("#language", language)
        self.page.click("#run")
        expect(self.page.locator("#status")).to_contain_text(" words · ", timeout=240_000)
        shown = self.page.eval_on_selector_all(".word", "els => els.map(e => [e.textContent, +e.dataset.start])")
        return [(text, start) for text, start in shown]

    def seek(self, seconds: float) -> None:
        self.page.evaluate("t => { document.getElementById('player').currentTime = t; }", seconds)

    def highlighted(self) -> str:
        return self.page.locator(".word.current").inner_text()

    def check_highlight(self, words: list[tuple[str, float]], positions: int = 3) -> list[int]:
        """Seek to the starts of ``positions`` words (spread over the text, each starting after the one
        before it) and check each is the highlighted one; the indexes checked."""
        from playwright.sync_api import expect

        distinct = [i for i in range(len(words)) if i + 1 == len(words) or words[i + 1][1] > words[i][1] + 2 * EPSILON]
        assert len(distinct) >= positions, f"fewer than {positions} words with distinct starts: {words}"
        step = max(1, len(distinct) // positions)
        chosen = distinct[::step][:positions]
        for i in reversed(chosen):  # backwards too: earlier words must lose the highlight
            self.seek(words[i][1] + EPSILON)
            expect(self.page.locator(".word.current")).to_have_text(words[i][0])
            assert self.page.evaluate("document.body.dataset.currentWord") == str(i)
            sung = self.page.locator(".word.sung").count()
            assert sung == i, f"the {i} words before the current one are marked sung, not {sung}"
        return chosen

    def close(self) -> None:
        self.browser.close()

    def assert_offline_and_clean(self) -> None:
        local = (self.url, "blob:" + self.url, "data:")
        elsewhere = [u for u in self.requests if not u.startswith(local)]
        assert elsewhere == [], f"requests that left the service: {elsewhere}"
        assert self.errors == [], self.errors


def test_page_aligns_lyrics_and_highlights_the_word_at_the_audio_time(tiny_service, chromium, tmp_path):
    """Tiny model (fast): upload, align the known lyrics, seek, click a word, download the LRC."""
    from playwright.sync_api import sync_playwright

    clip = tmp_path / "pjesma.wav"  # a voice and rate no other test uses: a new file in the shared service's store
    speak(SENTENCE, "hr+m3", 150, 45, clip)
    with sync_playwright() as p:
        k = KaraokePage(p, chromium, tiny_service)
        try:
            assert k.page.title() == "Karaoke · whisper-pipeline"
            k.upload(clip)
            words = k.run("tiny", "hr", lyrics=SENTENCE)
            assert [w for w, _ in words] == SENTENCE.split()
            assert all(a[1] <= b[1] for a, b in zip(words, words[1:])), "in time order"
            k.check_highlight(words)

            # a click on a word seeks the audio there
            last = len(words) - 1
            k.page.locator(".word").nth(last).click()
            now = k.page.evaluate("document.getElementById('player').currentTime")
            assert now == pytest.approx(words[last][1], abs=1e-3) and k.highlighted() == words[last][0]

            with k.page.expect_download() as download:
                k.page.click("#lrc")
            assert download.value.suggested_filename == "pjesma.lrc"
            lrc = Path(download.value.path()).read_text(encoding="utf-8")
            assert lrc.startswith("[ti:pjesma]\n[la:hr]\n") and "> Zagrebu. <" in lrc

            # picked from the list of stored files after a reload
            k.page.reload()
            file_id = k.page.locator("#file option").nth(1).get_attribute("value")
            k.page.select_option("#file", file_id)
            k.page.wait_for_function("document.getElementById('player').src.includes('/audio')")
            k.assert_offline_and_clean()
        finally:
            k.close()


@pytest.mark.slow
def test_page_with_whisper_base_transcribes_and_follows_the_audio(tmp_path, real_base_model, chromium):
    """The real whisper-base: a transcription's words highlighted at their times; then the known lyrics
    aligned (the README's screenshot)."""
    from playwright.sync_api import sync_playwright

    lyrics = " ".join(sentences("hr")[:3])
    clip = tmp_path / "pjesma.wav"
    speak(lyrics, "hr+f2", 140, 50, clip)
    ws = Workspace.at(tmp_path / "ws").ensure()
    proc, url = start_service(ws.root, real_base_model, "--preload", "base")
    try:
        with sync_playwright() as p:
            k = KaraokePage(p, chromium, url)
            try:
                k.upload(clip)
                heard = k.run("base", "hr")
                assert len(heard) >= 10, heard
                k.check_highlight(heard, positions=4)

                aligned = k.run("base", "hr", lyrics=lyrics)
                assert [w for w, _ in aligned] == lyrics.split()
                chosen = k.check_highlight(aligned, positions=3)
                k.seek(aligned[chosen[1]][1] + EPSILON)
                k.page.wait_for_timeout(200)
                shot = Path(os.environ.get("KARAOKE_SCREENSHOT") or tmp_path / "karaoke.png")
                k.page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                k.assert_offline_and_clean()
            finally:
                k.close()
    finally:
        stop(proc)


def test_page_sends_the_api_key_and_plays_audio_it_fetched_with_it(tmp_path, tiny_model_dir, chromium):
    """With WHISPER_PIPELINE_API_KEYS set the page itself opens without a key, says a key is needed, and
    once one is typed sends it as ``Authorization: Bearer`` on every call (the audio too: fetched with the
    header, played from a blob URL); the key is kept in the tab's sessionStorage and never put in a URL."""
    from playwright.sync_api import expect, sync_playwright

    key = "karaoke-test-key-7f3a"
    ws = Workspace.at(tmp_path / "ws").ensure()
    shutil.copytree(tiny_model_dir, ws.run_dir("tiny"))
    set_latest_run(ws, "tiny")
    clip = tmp_path / "pjesma.wav"
    speak(SENTENCE, "hr+m3", 150, 45, clip)
    env = {"WHISPER_PIPELINE_API_KEYS": key, "OMP_NUM_THREADS": "1"}
    proc, url = start_service(ws.root, tiny_model_dir, env=env)
    try:
        with sync_playwright() as p:
            k = KaraokePage(p, chromium, url)
            try:
                sent: list[str | None] = []
                k.page.on(
                    "request", lambda r: sent.append(r.headers.get("authorization")) if "/files" in r.url else None
                )
                expect(k.page.locator("#status")).to_contain_text("enter the API key above")
                k.errors.clear()  # the browser logs the 401s of the calls made before the key was typed
                sent.clear()
                k.page.fill("#key", key)
                k.page.dispatch_event("#key", "change")
                expect(k.page.locator("#model option")).to_have_count(4)  # default, latest → tiny, base, tiny
                k.upload(clip)
                assert k.page.evaluate("document.getElementById('player').src").startswith("blob:" + url)
                words = k.run("tiny", "hr", lyrics=SENTENCE)
                k.check_highlight(words)
                assert k.page.evaluate("sessionStorage.getItem('whisper-key')") == key
                assert sent and all(h == f"Bearer {key}" for h in sent), sent
                assert not any(key in u for u in k.requests), "the key is never in a URL"
                k.assert_offline_and_clean()
            finally:
                k.close()
    finally:
        stop(proc)
