"""Back-pressure: the bounded queue on its own, and over real HTTP (the service in this process on a
uvicorn thread, with the tiny model), made deterministic by holding the one model slot from the test:
a request that finds the queue full and one that waits past ``--queue-timeout`` get 503 with
``Retry-After`` and leave nothing in the temp dir."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from whisper_pipeline.models.registry import set_latest_run
from whisper_pipeline.serving.admission import Admission, Busy
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import free_port


def test_full_queue_and_timeout_are_refused():
    adm = Admission(max_queue=1, queue_timeout=0.3)
    release, running = threading.Event(), threading.Event()
    blocker = threading.Thread(target=adm.run, args=("a.wav", lambda: running.set() or release.wait(10)))
    blocker.start()
    assert running.wait(5)
    outcome: dict = {}

    def waiter() -> None:
        try:
            adm.run("b.wav", lambda: "ran")
        except Busy as exc:
            outcome["b"] = exc

    queued = threading.Thread(target=waiter)
    queued.start()
    time.sleep(0.05)
    assert adm.full()
    with pytest.raises(Busy) as full:
        adm.run("c.wav", lambda: "ran")
    assert full.value.status_code == 503 and int(full.value.headers["Retry-After"]) >= 1
    assert full.value.detail.startswith("c.wav: the service is busy (1 requests already waiting, --max-queue)")
    queued.join(5)
    assert outcome["b"].status_code == 503 and "longer than the 0.3 s limit (--queue-timeout)" in outcome["b"].detail
    release.set()
    blocker.join(5)
    assert adm.run("d.wav", lambda: 42) == 42  # places are given back after refusals and timeouts
    assert adm.stats() | {"inside": 0, "refused_full": 1, "refused_timeout": 1} == adm.stats()


def test_an_error_in_the_call_gives_the_slot_back():
    adm = Admission(max_queue=0, queue_timeout=1)
    with pytest.raises(ZeroDivisionError):
        adm.run("x", lambda: 1 / 0)
    assert adm.run("y", lambda: "ok") == "ok" and not adm.full()


def test_retry_after_follows_processing_time():
    adm = Admission(max_queue=2, queue_timeout=5)
    adm.run("x", lambda: time.sleep(1.2))
    assert adm.retry_after() == 2  # one call of ~1.2 s ahead, rounded up


class InProcessService:
    """The real app with the tiny model, on a uvicorn thread, so the test can hold its admission slot."""

    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.app, self.url = app, f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> InProcessService:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def busy_service(tmp_path, tiny_model_dir, monkeypatch) -> Iterator[tuple[InProcessService, Path]]:
    import shutil

    from whisper_pipeline.serving.app import create_app
    from whisper_pipeline.serving.catalog import ModelCatalog
    from whisper_pipeline.serving.engine import TranscriptionEngine

    ws = Workspace.at(tmp_path / "ws").ensure()
    shutil.copytree(tiny_model_dir, ws.run_dir("tiny"))
    set_latest_run(ws, "tiny")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # uploads are spooled and decoded here
    app = create_app(ModelCatalog(ws), TranscriptionEngine("cpu"), admission=Admission(max_queue=1, queue_timeout=1.5))
    with InProcessService(app, free_port()) as service:
        yield service, temp


def _post(url: str, wav: Path, results: list, **form) -> None:
    with open(wav, "rb") as f:
        results.append(requests.post(url, files={"file": (wav.name, f)}, data=form, timeout=60))


def test_queue_full_and_queue_timeout_over_http(busy_service, audio):
    service, temp = busy_service
    admission: Admission = service.app.state.admission
    release, holding = threading.Event(), threading.Event()
    holder = threading.Thread(target=admission.run, args=("held", lambda: holding.set() or release.wait(30)))
    holder.start()
    try:
        assert holding.wait(5)
        queued: list[requests.Response] = []
        waiter = threading.Thread(target=_post, args=(service.url + "/transcribe", audio["wav"], queued))
        waiter.start()
        deadline = time.time() + 10
        while not admission.full():  # the waiter holds the one place in the queue
            assert time.time() < deadline
            time.sleep(0.02)

        full = requests.post(
            service.url + "/transcribe",
            files={"file": ("pozdrav.wav", audio["wav"].read_bytes())},
            headers={"X-Request-ID": "queue-full-1"},
        )
        assert full.status_code == 503, full.text
        assert int(full.headers["Retry-After"]) >= 1 and full.headers["X-Request-ID"] == "queue-full-1"
        assert "the service is busy (1 requests already waiting, --max-queue)" in full.json()["detail"]
        openai_full = requests.post(
            service.url + "/v1/audio/transcriptions",
            files={"file": ("pozdrav.wav", audio["wav"].read_bytes())},
            data={"model": "whisper-1"},
        )
        assert openai_full.status_code == 503 and "Retry-After" in openai_full.headers
        error = openai_full.json()["error"]
        assert error["type"] == "server_error" and error["code"] == "service_unavailable", error

        waiter.join(30)
        timed_out = queued[0]
        assert timed_out.status_code == 503 and "Retry-After" in timed_out.headers, timed_out.text
        assert "longer than the 1.5 s limit (--queue-timeout)" in timed_out.json()["detail"]
    finally:
        release.set()
        holder.join(10)
    ok: list[requests.Response] = []
    _post(service.url + "/transcribe", audio["wav"], ok, language="hr")
    assert ok[0].status_code == 200, ok[0].text
    assert admission.stats()["inside"] == 0
    assert list(temp.iterdir()) == [], "refused and timed-out requests leave nothing behind"
