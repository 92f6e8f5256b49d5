"""API keys, request ids and the JSON access log, against the service started with its command line as
a process (tiny model), keys read from a file, ``--log-format json`` to a log file the test reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from whisper_pipeline.models.registry import set_latest_run
from whisper_pipeline.serving.__main__ import is_loopback
from whisper_pipeline.serving.auth import KeyChecker, KeyConfigError, load_keys
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import free_port
from whisper_pipeline_tests.serving.conftest import stop

# made-up keys for the test, written to a file: never real credentials
KEY, OTHER_KEY = "test-key-3f9a1c" + "e0b7d2", "test-key-second-" + "8c41"
WRONG = "test-key-wrong-" + "0000"


@dataclass
class KeyedService:
    url: str
    tmpdir: Path
    log: Path
    proc: subprocess.Popen
    ws: Workspace

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def access(self, request_id: str) -> dict:
        """The access-log line of ``request_id`` (written just after the answer: waits a moment)."""
        for _ in range(50):
            found = [x for x in self.lines() if x.get("request_id") == request_id and "status" in x]
            if found:
                return found[-1]
            time.sleep(0.1)
        raise AssertionError(f"no access line for {request_id}:\n{self.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, tiny_model_dir) -> Iterator[KeyedService]:
    root = tmp_path_factory.mktemp("keyed")
    ws = Workspace.at(root / "ws").ensure()
    shutil.copytree(tiny_model_dir, ws.run_dir("tiny"))
    shutil.copytree(tiny_model_dir, ws.run_dir("broken"))
    (ws.run_dir("broken") / "model.safetensors").write_bytes(b"truncated copy")
    set_latest_run(ws, "tiny")
    keys = root / "keys.txt"
    keys.write_text(f"# service keys\n{KEY}\n\n{OTHER_KEY}\n")
    tmpdir, log = root / "tmp", root / "service.log"
    tmpdir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "WHISPER_PIPELINE_API_KEYS": str(keys),
        "TMPDIR": str(tmpdir),
        "TORCHINDUCTOR_CACHE_DIR": str(root / "inductor"),
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    cmd = [sys.executable, "-m", "whisper_pipeline.serving", "--port", str(port), "--workspace", str(ws.root)]
    cmd += ["--base-model", tiny_model_dir, "--log-format", "json", "--max-upload-mb", "1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.time() < deadline, "no /health within 120 s"
        try:
            if requests.get(url + "/health", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    service = KeyedService(url, tmpdir, log, proc, ws)
    yield service
    stop(proc)
    text = log.read_text()
    assert KEY not in text and OTHER_KEY not in text and WRONG not in text, "a key reached the log"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_required_except_for_health(keyed):
    assert requests.get(keyed.url + "/health").json()["status"] == "ok"
    assert requests.get(keyed.url + "/docs").status_code == 200  # the page; the data behind it needs the key
    described = requests.get(keyed.url + "/openapi.json").json()  # /docs offers an Authorize button
    assert described["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert described["security"] == [{"apiKey": []}]

    missing = requests.get(keyed.url + "/models")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json() == {"detail": "no API key: send it as the header 'Authorization: Bearer <key>'"}
    wrong = requests.get(keyed.url + "/v1/models", headers=auth(WRONG))
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error", error
    assert WRONG not in wrong.text, "the key is not echoed"
    assert requests.get(keyed.url + "/models", headers={"Authorization": f"Basic {KEY}"}).status_code == 401

    for key in (KEY, OTHER_KEY):  # every key in the file works
        assert requests.get(keyed.url + "/models", headers=auth(key)).status_code == 200
    ids = [m["id"] for m in requests.get(keyed.url + "/v1/models", headers=auth(KEY)).json()["data"]]
    assert ids[0] == "whisper-1" and "tiny" in ids


def test_wrong_key_upload_leaves_nothing_behind(keyed, audio):
    for path in ("/transcribe", "/v1/audio/transcriptions", "/files"):
        with open(audio["wav"], "rb") as f:
            r = requests.post(keyed.url + path, files={"file": ("pozdrav.wav", f)}, headers=auth(WRONG))
        assert r.status_code == 401, (path, r.text)
    assert list(keyed.tmpdir.iterdir()) == []
    store = keyed.ws.file_store
    assert not store.exists() or not [p for p in store.rglob("*") if p.is_file()], "nothing stored"


def test_request_ids_on_every_answer(keyed, audio):
    given = requests.get(keyed.url + "/models", headers={**auth(KEY), "X-Request-ID": "trace-42.a_b"})
    assert given.headers["X-Request-ID"] == "trace-42.a_b"
    made = requests.get(keyed.url + "/models", headers=auth(KEY)).headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    bad = requests.get(keyed.url + "/models", headers={**auth(KEY), "X-Request-ID": "x" * 200})
    assert bad.headers["X-Request-ID"] != "x" * 200, "an over-long id is replaced"
    # errors too: 401, 404, 413, 422
    assert "X-Request-ID" in requests.get(keyed.url + "/models").headers
    unknown = requests.get(keyed.url + "/v1/models/nope", headers={**auth(KEY), "X-Request-ID": "r404"})
    assert unknown.status_code == 404 and unknown.headers["X-Request-ID"] == "r404"
    big = requests.post(
        keyed.url + "/transcribe",
        files={"file": ("big.wav", b"\0" * (2 << 20))},
        headers={**auth(KEY), "X-Request-ID": "r413"},
    )
    assert big.status_code == 413 and big.headers["X-Request-ID"] == "r413"
    with open(audio["wav"], "rb") as f:
        bad_lang = requests.post(
            keyed.url + "/v1/audio/transcriptions",
            files={"file": ("pozdrav.wav", f)},
            data={"model": "whisper-1", "language": "en"},
            headers={**auth(KEY), "X-Request-ID": "r400"},
        )
    assert bad_lang.status_code == 400 and bad_lang.headers["X-Request-ID"] == "r400"
    assert bad_lang.json()["error"]["param"] == "language" and "Croatian (hr)" in bad_lang.json()["error"]["message"]
    assert keyed.access("r413")["status"] == 413


def test_json_access_and_error_logs(keyed, audio):
    with open(audio["wav"], "rb") as f:
        r = requests.post(
            keyed.url + "/transcribe",
            files={"file": ("pozdrav.wav", f)},
            data={"language": "hr", "model": "tiny"},
            headers={**auth(KEY), "X-Request-ID": "log-ok"},
        )
    assert r.status_code == 200, r.text
    line = keyed.access("log-ok")
    assert line["method"] == "POST" and line["path"] == "/transcribe" and line["status"] == 200
    assert line["model"] == "tiny" and line["client"] == "127.0.0.1" and line["level"] == "info"
    assert line["audio_seconds"] == pytest.approx(r.json()["duration"], abs=0.01)
    assert line["queue_wait_s"] >= 0 and line["processing_s"] > 0
    assert line["rtf"] == pytest.approx(line["processing_s"] / line["audio_seconds"], rel=0.01)

    with open(audio["wav"], "rb") as f:
        failed = requests.post(
            keyed.url + "/transcribe",
            files={"file": ("pozdrav.wav", f)},
            data={"language": "hr", "model": "broken"},
            headers={**auth(KEY), "X-Request-ID": "log-500"},
        )
    assert failed.status_code == 500 and failed.headers["X-Request-ID"] == "log-500"
    assert keyed.access("log-500")["status"] == 500
    errors = [x for x in keyed.lines() if x.get("request_id") == "log-500" and x["level"] == "error"]
    assert errors and "inference failed on pozdrav.wav" in errors[0]["message"] and "Traceback" in errors[0]["error"]
    unauthorised = keyed.access(requests.get(keyed.url + "/models").headers["X-Request-ID"])
    assert unauthorised["status"] == 401 and unauthorised["model"] is None


def test_key_settings(tmp_path):
    assert load_keys("") == [] and load_keys(None) == []
    assert load_keys(" a-key-1 , a-key-2,") == ["a-key-1", "a-key-2"]
    with pytest.raises(KeyConfigError, match="is not a file"):
        load_keys(str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    with pytest.raises(KeyConfigError, match="holds no key"):
        load_keys(str(empty))
    checker = KeyChecker(["one-key", "two-key"])
    assert checker.valid("two-key") and not checker.valid("two-ke") and not checker.valid("")
    assert not KeyChecker([])
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
