"""``raw_audio`` tries a harvest again when an item failed for a reason that may pass: a real local server
answers 503 at first, then serves the file; a 404 is not retried."""

import functools
import http.server
import threading

import dagster as dg
import pytest

from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_wav


@pytest.fixture
def flaky_site(tmp_path):
    """``/talk.wav`` answers 503 to the first request, then serves the file; yields (base URL, requests)."""
    root = tmp_path / "site"
    root.mkdir()
    espeak_wav("Dobar dan, ovo je predavanje.", "hr", root / "talk.wav")
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            if requests.count("/talk.wav") == 1 and self.path == "/talk.wav":
                self.send_error(503, "Service Unavailable")
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def harvest_once(tmp_path, url: str) -> dg.ExecuteInProcessResult:
    sources = tmp_path / "sources.yaml"
    # the library's own per-source retries off, so the step-level retry is what is tested
    sources.write_text(f"settings:\n  retries: 0\nsources:\n  - url: {url}\n    language: hr\n")
    return dg.materialize(
        [raw_audio],
        partition_key="hr",
        resources={"workspace": WorkspaceResource(root=str(tmp_path / "ws"))},
        run_config={"ops": {"raw_audio": {"config": {"sources_file": str(sources), "harvest_retry_delay_s": 0.1}}}},
    )


def test_a_503_is_harvested_on_the_retry(tmp_path, flaky_site):
    base, requests = flaky_site
    result = harvest_once(tmp_path, f"{base}/talk.wav")
    assert result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1, "one retry, after the 503"
    assert requests.count("/talk.wav") >= 2
    log = read_jsonl(Workspace.at(tmp_path / "ws").harvest_log("hr"))
    assert [l["status"] for l in log] == ["failed", "downloaded"] and "503" in log[0]["reason"]
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["harvested"].value == {"downloaded": 1}


def test_a_404_is_not_retried(tmp_path, flaky_site):
    base, _ = flaky_site
    result = harvest_once(tmp_path, f"{base}/missing.wav")
    assert result.success, "a dead link is a warning, not a failed intake"
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    log = read_jsonl(Workspace.at(tmp_path / "ws").harvest_log("hr"))
    assert [l["status"] for l in log] == ["failed"] and "404" in log[0]["reason"]
