"""The ``review_queue`` asset materialized by Dagster after the intake (tiny CTranslate2 model in production):
its metadata, then the loop a reviewer closes: the corrected transcript saved at the path the queue names →
the next intake takes the file in (usable, deduped) → the queue no longer lists it. And the page in Debian's
chromium: no console errors, no request leaving the disk, the audio plays from its relative path, the
download button saves the edited draft under the sidecar's name."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from whisper_pipeline.assets.deduped import deduped
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.assets.review_queue import review_queue
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.review.queue import read_queue
from whisper_pipeline.stages.review import ReviewSettings, review_stage
from whisper_pipeline_tests.conftest import CHROMIUM_ARGS
from whisper_pipeline_tests.pipeline import pipeline_resources
from whisper_pipeline_tests.review.conftest import promote_tiny

INTAKE = {"ops": {"raw_audio": {"config": {"harvest": False}}}}
QUEUE = {"ops": {"review_queue": {"config": {"cpu_threads": 1}}}}


def test_saved_transcript_leaves_the_queue_for_the_training_data(review_ws, tiny_ct2_run):
    ws = review_ws
    promote_tiny(ws, tiny_ct2_run)
    resources = pipeline_resources(ws, str(tiny_ct2_run))
    instance = dg.DagsterInstance.ephemeral()

    def materialize(assets, config) -> dict:
        """Materialize ``assets`` for hr; the metadata of the review queue's materialization, if any."""
        result = dg.materialize(assets, partition_key="hr", resources=resources, instance=instance, run_config=config)
        assert result.success
        events = result.asset_materializations_for_node("review_queue") if review_queue in assets else []
        return {k: v.value for k, v in events[0].metadata.items()} if events else {}

    materialize([raw_audio, deduped], INTAKE)
    meta = materialize([review_queue], QUEUE)
    assert (meta["files"], meta["drafted_this_run"], meta["model"]) == (3, 3, "production model tiny-review")
    assert meta["queue"] == str(ws.review_queue("hr")) and meta["page"] == str(ws.review_page("hr"))
    assert meta["hours"] > 0 and meta["least_confident"].count("\n| ") == 3, meta["least_confident"]

    rows = read_queue(ws.review_queue("hr"))
    chosen = next(r for r in rows if r["file"] == "hr/spk2/c.wav")
    Path(chosen["transcript_path"]).write_text("Ova snimka nema transkript.\n", encoding="utf-8")  # the reviewer

    materialize([raw_audio, deduped], INTAKE)
    inventory = {r["filename"]: r for r in read_jsonl(ws.inventory("hr"))}
    assert inventory["hr/spk2/c.wav"]["status"] == "ok" and inventory["hr/spk2/c.wav"]["transcript_present"]
    assert "hr/spk2/c.wav" in {
        Path(r["audio"]).relative_to(ws.uploads).as_posix() for r in read_jsonl(ws.deduped("hr"))
    }
    meta = materialize([review_queue], QUEUE)
    assert (meta["files"], meta["drafted_this_run"], meta["reused_drafts"]) == (2, 0, 2)
    assert {r["file"] for r in read_queue(ws.review_queue("hr"))} == {"hr/spk2/d.wav", "hr/spk2/tone.wav"}
    assert "c.wav" not in ws.review_page("hr").read_text(encoding="utf-8")


def test_page_in_chromium(review_ws, tiny_ct2_run, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    ws = review_ws
    promote_tiny(ws, tiny_ct2_run)
    page_path = review_stage(ws, "hr", ReviewSettings(cpu_threads=1), lambda: "", "cpu").metadata["page"]
    rows = read_queue(ws.review_queue("hr"))
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(Path(page_path).as_uri())
            assert page.locator("tr[data-rank]").count() == 3
            shown = page.eval_on_selector_all("tr[data-rank] code", "els => els.map(e => e.textContent)")
            assert shown == [r["transcript_path"] for r in rows], "least confident first, with where to save"
            for i in range(3):  # every player found its audio through the relative path
                page.wait_for_function(f"document.querySelectorAll('audio')[{i}].readyState >= 1", timeout=20_000)
            duration = page.evaluate("document.querySelectorAll('audio')[0].duration")
            assert abs(duration - rows[0]["duration_s"]) < 0.1
            first = page.locator("tr[data-rank]").first
            first.locator("textarea").fill("Ispravljeni tekst.")
            with page.expect_download() as download:
                first.locator("button.save").click()
            saved = tmp_path / "saved.txt"
            download.value.save_as(saved)
            assert download.value.suggested_filename == Path(rows[0]["transcript_path"]).name
            assert saved.read_text(encoding="utf-8") == "Ispravljeni tekst.\n"
            first.locator("button.copy").click()
            page.screenshot(path=str(tmp_path / "review.png"))
        finally:
            browser.close()
    assert errors == [], errors
    assert all(u.startswith(("file://", "blob:")) for u in requests), requests
