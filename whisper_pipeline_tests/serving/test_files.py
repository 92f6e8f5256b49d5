"""The file store and the plan's file endpoints (``POST /files``, ``/process/whisper/<file_id>`` …): the store
on its own (content addressing, the index, concurrent writers, failures leaving nothing), then over real
HTTP against the service started as a process (tiny model, --max-upload-mb 1, --max-audio-minutes 10):
uploads, listing, audio with ranges, outputs written, and hostile ids sent as raw request lines."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
from pathlib import Path

import pytest
import requests

from whisper_pipeline.serving.app import decode_capped
from whisper_pipeline.serving.file_store import AudioInfo, FileStore, StoreError, StoreFull
from whisper_pipeline.serving.files import output_label, probe_format
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_wav
from whisper_pipeline_tests.serving.conftest import AUDIO_MINUTES, SENTENCE, Service, ffmpeg

WORDS = "Pjesma o moru i suncu"


def check_audio(path: Path) -> AudioInfo:
    """What the service checks: it decodes (ffmpeg), and its format."""
    audio = decode_capped(path, path.name, 600)
    return AudioInfo(audio.size / 16000, probe_format(path), "audio/wav")


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256: a failed request must change none of it."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def chunks(data: bytes, size: int = 4096):
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("file-clips")
    wav = espeak_wav(WORDS, "hr+f2", d / "pjesma.wav")
    mp3 = d / "pjesma.mp3"
    ffmpeg("-i", str(wav), "-ar", "44100", str(mp3))
    other = espeak_wav(SENTENCE, "hr+m3", d / "pozdrav.wav")
    return {"wav": wav, "mp3": mp3, "other": other}


# --- the store on its own --------------------------------------------------------------------------------------


def test_same_content_is_one_file_named_by_its_sha256(tmp_path, clips):
    ws = Workspace.at(tmp_path)
    store = FileStore(ws)
    data = clips["wav"].read_bytes()
    first, new = store.put(chunks(data), "pjesma.wav", check_audio, ".wav")
    again, new_again = store.put(chunks(data), "copy of pjesma.wav", check_audio, ".wav")
    assert (new, new_again) == (True, False)
    assert first == again and first.file_id == hashlib.sha256(data).hexdigest()
    assert first.filename == "pjesma.wav", "the first name is kept"
    assert first.bytes == len(data) and first.duration == pytest.approx(1.6, abs=0.8) and first.format == "wav"
    assert ws.stored_audio(first.file_id).read_bytes() == data
    assert sorted(tree(ws.file_store)) == ["audio/" + first.file_id, "index.json", "index.json.lock"]
    assert json.loads(ws.file_store_index.read_text())[first.file_id]["filename"] == "pjesma.wav"
    assert store.list() == [first] and store.get(first.file_id) == first


@pytest.mark.parametrize("problem", ["not audio", "empty", "client went away"])
def test_a_failed_upload_leaves_nothing(tmp_path, clips, problem):
    ws = Workspace.at(tmp_path)
    store = FileStore(ws)
    kept, _ = store.put(chunks(clips["wav"].read_bytes()), "pjesma.wav", check_audio)
    before = tree(ws.file_store)

    def broken_stream():
        yield clips["other"].read_bytes()[:5000]
        raise ConnectionResetError("the client went away")

    data = {"not audio": [b"RIFF but not really a wav\n" * 100], "empty": [], "client went away": broken_stream()}
    with pytest.raises(Exception) as caught:
        store.put(iter(data[problem]), "x.wav", check_audio, ".wav")
    if problem != "client went away":
        assert caught.value.status_code == 400, "the service's 400 (undecodable / empty upload)"
    assert tree(ws.file_store) == before and list(ws.file_store_incoming.iterdir()) == []
    assert store.list() == [kept]


def test_ids_are_matched_before_they_are_looked_up(tmp_path, clips):
    ws = Workspace.at(tmp_path)
    store = FileStore(ws)
    kept, _ = store.put(chunks(clips["wav"].read_bytes()), "pjesma.wav", check_audio)
    fid = kept.file_id
    for bad in ("", "..", "../index.json", "index.json", fid.upper(), fid + "0", fid[:-1], "a" * 64,
                "/" + fid, fid + "\x00", "audio/" + fid):  # fmt: skip
        assert store.get(bad) is None, bad
    assert store.get(kept.file_id) == kept
    ws.stored_audio(kept.file_id).unlink()
    assert store.get(kept.file_id) is None, "an index entry without its audio is not a stored file"


def test_a_corrupt_index_is_named(tmp_path):
    ws = Workspace.at(tmp_path)
    ws.file_store.mkdir(parents=True)
    ws.file_store_index.write_text("{torn")
    with pytest.raises(StoreError, match=r"index\.json: the file store's index is not JSON"):
        FileStore(ws).list()


def test_concurrent_uploads_lose_no_entry(tmp_path, clips):
    """Eight threads, four contents twice each: four files, all four in the index (no lost update)."""
    ws = Workspace.at(tmp_path)
    store = FileStore(ws)
    base = clips["wav"].read_bytes()
    contents = [base + bytes(i + 1) for i in range(4)]  # trailing bytes: still a decodable wav, other hashes
    results: list = []

    def put(i: int) -> None:
        results.append(store.put(chunks(contents[i % 4]), f"c{i}.wav", check_audio, ".wav"))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = {hashlib.sha256(c).hexdigest() for c in contents}
    assert {r[0].file_id for r in results} == ids and sum(new for _, new in results) == 4
    assert set(json.loads(ws.file_store_index.read_text())) == ids
    assert {p.name for p in (ws.file_store / "audio").iterdir()} == ids
    assert list(ws.file_store_incoming.iterdir()) == []


def test_a_full_store_refuses_new_content_until_a_delete_frees_room(tmp_path, clips):
    ws = Workspace.at(tmp_path)
    wav, other = clips["wav"].read_bytes(), clips["other"].read_bytes()
    store = FileStore(ws, max_bytes=len(wav) + len(other) // 2)
    first, _ = store.put(chunks(wav), "pjesma.wav", check_audio, ".wav")
    assert store.used_bytes() == len(wav)
    before = tree(ws.file_store)
    with pytest.raises(StoreFull, match=r"pozdrav.wav: the file store is full .* DELETE /files/<file_id>"):
        store.put(chunks(other), "pozdrav.wav", check_audio, ".wav")
    assert tree(ws.file_store) == before and list(ws.file_store_incoming.iterdir()) == []
    assert store.put(chunks(wav), "again.wav", check_audio, ".wav") == (first, False), "stored content needs no room"

    assert store.delete(first.file_id) == first
    assert store.get(first.file_id) is None and not ws.stored_audio(first.file_id).exists()
    assert store.used_bytes() == 0 and store.delete(first.file_id) is None
    second, new = store.put(chunks(other), "pozdrav.wav", check_audio, ".wav")
    assert new and store.list() == [second]


def test_model_labels_are_safe_file_name_parts():
    assert output_label("base", "/somewhere/models/base") == "base"
    assert output_label("production", "/ws/models/whisper/run-20260101") == "run-20260101"
    odd = output_label("x", "/ws/models/whisper/a b:..")
    assert odd.startswith("a_b-") and "/" not in odd and ".." not in odd
    assert output_label("x", "/ws/models/whisper/a b") != output_label("x", "/ws/models/whisper/a_b")


# --- over HTTP ---------------------------------------------------------------------------------------------------


def service_workspace(service: Service) -> Workspace:
    """The tiny service's workspace: its runs are at ``<root>/models/whisper/<run>``."""
    runs = requests.get(service.url + "/models", timeout=30).json()["models"]
    return Workspace.at(Path(runs[0]["path"]).parents[2])


def upload(url: str, path: Path, name: str | None = None) -> requests.Response:
    with open(path, "rb") as f:
        return requests.post(url + "/files", files={"file": (name or path.name, f)}, timeout=300)


def test_upload_list_and_play_back(tiny_server, clips):
    url = tiny_server.url
    r = upload(url, clips["wav"])
    assert r.status_code == 201, r.text
    doc = r.json()
    data = clips["wav"].read_bytes()
    assert doc["file_id"] == hashlib.sha256(data).hexdigest()
    assert (doc["filename"], doc["bytes"], doc["format"], doc["media_type"]) == (
        "pjesma.wav",
        len(data),
        "wav",
        "audio/wav",
    )
    assert doc["duration"] > 0.5 and doc["created"].endswith("Z")
    same = upload(url, clips["wav"], "druga.wav")
    assert same.status_code == 200 and same.json() == doc, "same content: same file_id, stored once"
    mp3 = upload(url, clips["mp3"]).json()
    assert mp3["media_type"] == "audio/mpeg" and mp3["file_id"] != doc["file_id"]

    listed = requests.get(url + "/files", timeout=30).json()["files"]
    assert {doc["file_id"], mp3["file_id"]} <= {f["file_id"] for f in listed}
    info = requests.get(f"{url}/files/{doc['file_id']}", timeout=30).json()
    assert info == {**doc, "karaoke": False}
    lrc = requests.get(f"{url}/files/{doc['file_id']}/lrc", timeout=30)
    assert (lrc.status_code, lrc.json()["detail"]) == (
        404,
        "pjesma.wav: not transcribed or aligned yet (POST /process/…)",
    )

    audio = requests.get(f"{url}/files/{doc['file_id']}/audio", timeout=30)
    assert audio.status_code == 200 and audio.content == data
    assert audio.headers["content-type"] == "audio/wav" and audio.headers["accept-ranges"] == "bytes"
    part = requests.get(f"{url}/files/{doc['file_id']}/audio", headers={"Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206 and part.content == data[100:200], "ranges, so a player can seek"
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"


def test_process_writes_the_transcription_and_karaoke(tiny_server, clips):
    url = tiny_server.url
    ws = service_workspace(tiny_server)
    file_id = upload(url, clips["other"]).json()["file_id"]
    r = requests.post(f"{url}/process/whisper/{file_id}", params={"model": "latest", "language": "hr"}, timeout=300)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["file_id"], doc["file"], doc["model"], doc["language"]) == (file_id, "pozdrav.wav", "latest", "hr")
    assert doc["segments"] and all("words" in s for s in doc["segments"])
    # "latest" is written under the run it meant (tiny), as the plan's transcription_<model>.json
    written = ws.file_transcription(file_id, "tiny")
    assert json.loads(written.read_text()) == doc
    assert doc["outputs"] == {
        "json": f"outputs/{file_id}/transcription_tiny.json",
        "lrc": f"outputs/{file_id}/karaoke.lrc",
        "model_label": "tiny",
    }
    lrc = ws.file_karaoke(file_id).read_text()
    assert lrc.startswith("[ti:pozdrav]\n[la:hr]\n")
    served = requests.get(f"{url}/files/{file_id}/lrc", timeout=30)
    assert served.text == lrc and 'filename="pozdrav.lrc"' in served.headers["content-disposition"]
    assert requests.get(f"{url}/files/{file_id}", timeout=30).json()["karaoke"] is True

    aligned = requests.post(
        f"{url}/process/align/{file_id}", data={"text": SENTENCE, "model": "tiny_sr"}, timeout=300
    ).json()
    assert [w["word"].strip() for s in aligned["segments"] for w in s["words"]] == SENTENCE.split()
    assert (aligned["language"], aligned["language_source"]) == ("sr", "model")
    assert json.loads(ws.file_alignment(file_id, "tiny_sr").read_text()) == aligned
    assert "> Zagrebu. <" in ws.file_karaoke(file_id).read_text(), "karaoke.lrc holds the latest result"


def test_bad_process_requests_write_nothing(tiny_server, clips):
    url = tiny_server.url
    ws = service_workspace(tiny_server)
    file_id = upload(url, clips["mp3"]).json()["file_id"]
    before = tree(ws.alignment_outputs(file_id))
    cases = [
        ({"model": "nope"}, 404, "pjesma.mp3: unknown model 'nope'"),
        ({"model": "../../models/whisper/tiny"}, 404, "pjesma.mp3: unknown model"),
        ({"model": "production"}, 404, "pjesma.mp3: no production model yet"),
        ({"language": "ru"}, 422, "query.language: Input should be"),
        ({"num_beams": "0"}, 422, "query.num_beams"),
        ({"model": "broken", "language": "hr"}, 500, "pjesma.mp3: the model failed ("),
    ]
    for params, status, message in cases:
        r = requests.post(f"{url}/process/whisper/{file_id}", params=params, timeout=300)
        assert r.status_code == status, (params, r.text)
        assert message in r.json()["detail"], (params, r.text)
    empty = requests.post(f"{url}/process/align/{file_id}", data={"text": " ", "language": "hr"}, timeout=300)
    assert empty.status_code == 422 and "pjesma.mp3: text is empty" in empty.json()["detail"]
    assert tree(ws.alignment_outputs(file_id)) == before


@pytest.fixture(scope="module")
def unusable(tmp_path_factory, clips) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("unusable")
    files = {"empty.wav": d / "empty.wav", "notes.wav": d / "notes.wav", "clip.mp4": d / "clip.mp4"}
    files["empty.wav"].write_bytes(b"")
    files["notes.wav"].write_text("not audio at all\n")
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10", "-an", str(files["clip.mp4"]))
    files["long.ogg"] = d / "long.ogg"
    ffmpeg("-stream_loop", "-1", "-i", str(clips["wav"]), "-t", str(AUDIO_MINUTES * 60 + 30), "-ac", "1",
           "-ar", "16000", "-c:a", "libopus", "-b:a", "8k", str(files["long.ogg"]))  # fmt: skip
    files["big.wav"] = d / "big.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "10", str(files["big.wav"]))  # 1.7 MB
    return files


def test_delete_takes_the_file_and_its_outputs_away(tiny_server, clips):
    url = tiny_server.url
    ws = service_workspace(tiny_server)
    data = clips["other"].read_bytes() + b"\0\0\0\0"  # content of its own: other tests keep theirs
    file_id = requests.post(url + "/files", files={"file": ("brisi.wav", data)}, timeout=300).json()["file_id"]
    processed = requests.post(f"{url}/process/whisper/{file_id}", params={"model": "tiny", "language": "hr"})
    assert processed.status_code == 200 and ws.file_karaoke(file_id).is_file()

    gone = requests.delete(f"{url}/files/{file_id}", timeout=30)
    assert gone.status_code == 200 and gone.json() == {"file_id": file_id, "filename": "brisi.wav", "deleted": True}
    assert not ws.stored_audio(file_id).exists() and not ws.alignment_outputs(file_id).exists()
    assert file_id not in {f["file_id"] for f in requests.get(url + "/files", timeout=30).json()["files"]}
    for method, path in (("GET", ""), ("GET", "/audio"), ("DELETE", "")):
        assert requests.request(method, f"{url}/files/{file_id}{path}", timeout=30).status_code == 404
    again = requests.post(f"{url}/process/whisper/{file_id}", timeout=30)
    assert again.status_code == 404 and not ws.alignment_outputs(file_id).exists()
    for target in ("/files/..%2Findex.json", "/files/%2e%2e", f"/files/{file_id}%00", "/files/index.json"):
        assert raw_get(url, target, "DELETE")[0] in (404, 405, 422), target
    assert ws.file_store_index.is_file()


def test_unusable_uploads_leave_nothing_in_the_store_or_temp_dirs(tiny_server, clips, unusable):
    url = tiny_server.url
    ws = service_workspace(tiny_server)
    upload(url, clips["wav"])  # the store exists and holds something
    store_before, listed_before = tree(ws.file_store), requests.get(url + "/files", timeout=30).json()
    expected = {
        "empty.wav": (400, "empty.wav: empty upload (0 bytes)"),
        "notes.wav": (400, "notes.wav: undecodable ("),
        "clip.mp4": (400, "clip.mp4: no audio stream (a video without sound?)"),
        "long.ogg": (413, f"long.ogg: longer than the {AUDIO_MINUTES} min limit (--max-audio-minutes)"),
        "big.wav": (413, "upload larger than the 1 MB limit (--max-upload-mb)"),
    }
    for name, (status, message) in expected.items():
        r = upload(url, unusable[name])
        assert r.status_code == status, (name, r.text)
        assert r.json()["detail"].startswith(message), (name, r.text)
        assert tree(ws.file_store) == store_before, f"{name} left something in the store"
        assert list(ws.file_store_incoming.iterdir()) == []
        assert list(tiny_server.tmpdir.iterdir()) == [], f"{name} left something in TMPDIR"
    assert requests.get(url + "/files", timeout=30).json() == listed_before
    no_file = requests.post(url + "/files", data={"x": "1"}, timeout=30)
    assert no_file.status_code == 422 and no_file.json()["detail"].startswith("no file")


def raw_get(url: str, target: str, method: str = "GET") -> tuple[int, bytes]:
    """The request line exactly as written: no client normalizes ``..`` or re-encodes ``%``."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_file_ids_that_are_paths_are_not_found(tiny_server, clips):
    url = tiny_server.url
    file_id = upload(url, clips["wav"]).json()["file_id"]
    assert raw_get(url, f"/files/{file_id}/audio")[0] == 200
    index = service_workspace(tiny_server).file_store_index.read_bytes()
    targets = [
        "/files/../files/index.json",
        "/files/..",
        "/files/..%2Findex.json",
        "/files/%2e%2e%2findex.json",
        "/files/%2e%2e/%2e%2e/files/index.json",
        "/files/%252e%252e%252findex.json",  # double-encoded
        "/files/..%252f..%252findex.json",
        "/files/%2Fetc%2Fpasswd",
        "/files//etc/passwd",
        "/files/index.json",
        f"/files/{file_id}%00",
        f"/files/{file_id}%00/audio",
        f"/files/{file_id.upper()}/audio",
        f"/files/{file_id}0/audio",
        f"/files/{'a' * 64}/audio",
        f"/files/{'f' * 5000}",
        f"/files/{file_id}/../index.json",
        f"/files/audio%2F{file_id}",
        f"/files/..%2Faudio%2F{file_id}/audio",
        "/files/%5C..%5Cindex.json",
        "/files/%C0%AE%C0%AE%C0%AFindex.json",  # overlong UTF-8 for ../
    ]
    for target in targets:
        for method, path in (("GET", target), ("GET", target + "/audio"), ("GET", target + "/lrc")):
            status, body = raw_get(url, path, method)
            assert status in (404, 422), (path, status, body[:200])
            assert index not in body and b"RIFF" not in body, path
            assert len(body) < 600, "the echoed id is cut short"
        for process in ("/process/whisper", "/process/align"):
            status, body = raw_get(url, process + target.removeprefix("/files"), "POST")
            assert status in (404, 405, 422), (process, target, status, body[:200])
    detail = requests.get(f"{url}/files/%2e%2e%2findex.json", timeout=30)
    assert detail.status_code == 404
    shown = requests.get(f"{url}/files/nope", timeout=30).json()["detail"]
    assert shown == "no stored file 'nope' (a file_id is the 64 hex digits POST /files answered)"


def test_a_file_name_is_only_a_label(tiny_server, clips):
    """The client's name (a path, a NUL) is kept cleaned in the index; the bytes go under their hash only."""
    from whisper_pipeline_tests.serving.test_api_inputs import multipart, post_raw

    ws = service_workspace(tiny_server)
    data = clips["wav"].read_bytes() + b"\0\0"  # a content no other test stores
    before = {p for p in ws.root.rglob("*")}
    r = post_raw(tiny_server.url + "/files", multipart(b"../../../etc/x\x00y.wav", data))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["filename"] == "x y.wav" and doc["file_id"] == hashlib.sha256(data).hexdigest()
    added = {p.relative_to(ws.root).as_posix() for p in set(ws.root.rglob("*")) - before}
    store = {"files", "files/audio", "files/incoming", "files/index.json", "files/index.json.lock"}
    assert added <= store | {f"files/audio/{doc['file_id']}"}, added
    assert ws.stored_audio(doc["file_id"]).read_bytes() == data
