"""What a careless or hostile client can send, over real HTTP to the service started as a process
(tiny model, --max-upload-mb 1, --max-audio-minutes 10, --max-loaded 1): file names that are paths or
carry control characters, bodies over the limit (declared or streamed), files that are not audio or
are too long, bad form fields, model names that are paths, requests for two models at once. Each
answer has its status and a message that names the upload; nothing is left in the service's TMPDIR."""

from __future__ import annotations

import json
import select
import socket
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from whisper_pipeline_tests.serving.conftest import (
    AUDIO_MINUTES,
    UPLOAD_MB,
    Service,
    ffmpeg,
    post,
)

BOUNDARY = b"b0undary-f0r-tests"
CYRILLIC = "Добар дан, данас је лијеп и сунчан дан у Београду."


def multipart(filename: bytes, data: bytes, **fields: str) -> bytes:
    """A multipart body written byte by byte: HTTP clients escape or refuse a file name with a
    newline or NUL, a hostile client does not."""
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (BOUNDARY, k.encode(), v.encode())
        for k, v in fields.items()
    ]
    parts.append(
        b'--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n%s\r\n" % (BOUNDARY, filename, data)
    )
    return b"".join(parts) + b"--%s--\r\n" % BOUNDARY


def post_raw(url: str, body: bytes) -> requests.Response:
    ctype = "multipart/form-data; boundary=" + BOUNDARY.decode()
    return requests.post(url, data=body, headers={"Content-Type": ctype}, timeout=300)


def printable(text: str) -> bool:
    return not any(unicodedata.category(c)[0] == "C" for c in text)


def assert_nothing_left(service: Service) -> None:
    """Uploads are copied to a private dir under the service's TMPDIR and removed after each request."""
    assert sorted(p.name for p in service.tmpdir.iterdir()) == []


# (name the client sends, how answers name it, the LRC title)
HOSTILE_NAMES = [
    (
        b"..",
        "upload",
        "upload",
    ),  # was: the temp "file" was the temp dir's parent → bare 500
    (b"", "upload", "upload"),
    (b"a/../../b.wav", "b.wav", "b"),
    (b"C:\\Users\\ana\\pjesma.mp3", "pjesma.mp3", "pjesma"),  # what old browsers send
    (b"x\x00y.wav", "x y.wav", "x y"),  # was: a 500 (embedded null byte)
    (b"x\ny.wav", "x y.wav", "x y"),  # was: a line break inside [ti:]
    (b"x]\n[ar:evil.wav", "x] [ar:evil.wav", "x) (ar:evil"),  # was: a tag of its own
    (
        "\u202eevaw.exe".encode(),
        "evaw.exe",
        "evaw",
    ),  # a bidi override hides the real extension
    ("Pjesma čćž.mp3".encode(), "Pjesma čćž.mp3", "Pjesma čćž"),
]


@pytest.mark.parametrize(("sent", "shown", "title"), HOSTILE_NAMES, ids=repr)
def test_file_names_never_become_paths_headers_or_tags(tiny_server, audio, sent, shown, title):
    """The temp file's name is fixed (never the client's); answers, messages, LRC tags and
    Content-Disposition carry a cleaned name: no path, no control characters, no tag brackets."""
    wav = audio["wav"].read_bytes()
    body = multipart(sent, wav, text="Dobar dan", language="hr", format="lrc")
    r = post_raw(tiny_server.url + "/align", body)
    assert r.status_code == 200, r.text
    head = r.text.splitlines()[:3]
    assert head == [
        f"[ti:{title}]",
        "[la:hr]",
        "[re:whisper-pipeline (stable-ts alignment)]",
    ]
    assert all(line.startswith("[0") for line in r.text.splitlines()[3:]), r.text
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('inline; filename="') and printable(disposition)
    assert "/" not in disposition and "\\" not in disposition

    bad = post_raw(tiny_server.url + "/transcribe", multipart(sent, b"not audio"))
    assert bad.status_code == 400, bad.text
    detail = bad.json()["detail"]
    assert detail.startswith(f"{shown}: undecodable ("), detail
    assert printable(detail) and "whisper-serve-" not in detail, "no temp path in messages"
    assert_nothing_left(tiny_server)


def test_declared_oversized_body_is_refused_before_it_is_sent(tiny_server):
    """Content-Length over the limit → 413 at once: the client sends only the headers and still
    gets the answer, so the server read none of the body."""
    host, port = tiny_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /transcribe HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000000\r\n"
            b"Content-Type: multipart/form-data; boundary=%s\r\n\r\n" % BOUNDARY
        )
        answer = read_response(sock)
    status, headers, body = answer
    assert status == 413, answer
    assert headers.get("connection") == "close"
    assert json.loads(body)["detail"] == f"upload larger than the {UPLOAD_MB} MB limit (--max-upload-mb)"


def test_streamed_oversized_body_is_refused_while_streaming(tiny_server):
    """A chunked upload (no Content-Length) is counted as it arrives: the 413 comes back while the
    client is still sending, long before the 100 MB it meant to send."""
    host, port = tiny_server.url.removeprefix("http://").split(":")
    part_head = b'--%s\r\nContent-Disposition: form-data; name="file"; filename="huge.wav"\r\n\r\n' % BOUNDARY
    chunk, total, sent = b"\0" * 65536, 100 << 20, 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /transcribe HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=%s\r\n\r\n" % BOUNDARY
        )
        sock.sendall(b"%x\r\n%s\r\n" % (len(part_head), part_head))
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            if sent >= total:  # the server read it all: end the body and take its answer
                tail = b"\r\n--%s--\r\n" % BOUNDARY
                sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while this was sending; the answer is still there
        status, headers, body = read_response(sock)
    # what was sent before the answer came: the limit, plus what socket buffers took meanwhile
    assert sent < total / 4, f"the answer came after {sent >> 20} MB were sent: {body!r}"
    assert status == 413 and headers.get("connection") == "close", body
    assert json.loads(body)["detail"].startswith(f"upload larger than the {UPLOAD_MB} MB limit")
    assert_nothing_left(tiny_server)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, f"connection closed without an answer: {data!r}"
        data += piece
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers.get("content-length", 0)):
        piece = sock.recv(65536)
        if not piece:
            break
        body += piece
    return int(lines[0].split()[1]), headers, body


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory, audio) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("odd-files")
    files = {
        "empty": d / "empty.wav",
        "video": d / "clip.mp4",
        "silent": d / "tišina.wav",
    }
    files["empty"].write_bytes(b"")
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=2:size=160x120:rate=10",
        "-an",
        str(files["video"]),
    )
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5", str(files["silent"]))
    # speech looped past the --max-audio-minutes limit, small enough (≈0.6 MB) to pass the upload limit
    files["long"] = d / "predavanje.ogg"
    seconds = AUDIO_MINUTES * 60 + 30
    ffmpeg("-stream_loop", "-1", "-i", str(audio["wav"]), "-t", str(seconds), "-ac", "1",
           "-ar", "16000", "-c:a", "libopus", "-b:a", "8k", str(files["long"]))  # fmt: skip
    assert files["long"].stat().st_size < UPLOAD_MB << 20
    return files


def test_files_that_are_not_usable_audio(tiny_server, odd_files):
    url = tiny_server.url + "/transcribe"
    empty = post(url, odd_files["empty"])
    assert (empty.status_code, empty.json()["detail"]) == (
        400,
        "empty.wav: empty upload (0 bytes)",
    )
    video = post(url, odd_files["video"])
    assert video.status_code == 400, video.text
    assert video.json()["detail"] == "clip.mp4: no audio stream (a video without sound?)"

    # too long to transcribe in one request: refused after decoding at most the limit (+1 s), at once
    started = time.monotonic()
    long = post(url, odd_files["long"], language="hr")
    assert long.status_code == 413, long.text
    assert long.json()["detail"] == (
        f"predavanje.ogg: longer than the {AUDIO_MINUTES} min limit (--max-audio-minutes); split it"
    )
    assert time.monotonic() - started < 60, "refused without transcribing"

    # silence is audio: transcribed (whatever a random model makes of it), times inside the 5 s
    silent = post(url, odd_files["silent"], language="hr")
    assert silent.status_code == 200, silent.text
    doc = silent.json()
    assert doc["file"] == "tišina.wav" and doc["duration"] == pytest.approx(5.0, abs=0.05)
    assert all(0 <= s["start"] <= s["end"] <= doc["duration"] for s in doc["segments"])
    assert_nothing_left(tiny_server)


def test_bad_form_fields_are_named(tiny_server, audio):
    url = tiny_server.url + "/transcribe"
    no_file = requests.post(url, data={"language": "hr"}, timeout=60)
    assert no_file.status_code == 422
    assert no_file.json()["detail"] == "no file: send the audio as the multipart form field 'file'"
    assert no_file.json()["errors"][0]["loc"] == ["body", "file"], "the list is kept for programs"
    for beams, msg in (
        (0, "greater than or equal to 1"),
        (11, "less than or equal to 10"),
    ):
        r = post(url, audio["wav"], num_beams=str(beams))
        assert r.status_code == 422
        assert r.json()["detail"] == f"pozdrav.wav: num_beams: Input should be {msg}"
    # a model name is looked up among the runs, never joined to a path
    for model in ("../x", "/etc", "a/b", "..", "tiny/../tiny_sr", "x\x00y", "x" * 300):
        r = post(url, audio["wav"], model=model)
        assert r.status_code == 404, (model, r.text)
        detail = r.json()["detail"]
        assert detail.startswith("pozdrav.wav: unknown model ") and "available: latest, base" in detail
        assert len(detail) < 300, "the echoed name is cut short"
    assert_nothing_left(tiny_server)


def test_serbian_cyrillic_text_aligns(tiny_server, audio):
    """Serbian is written in Cyrillic as much as in Latin: a Cyrillic text is aligned word by word."""
    r = post(tiny_server.url + "/align", audio["wav"], text=CYRILLIC, language="sr")
    assert r.status_code == 200, r.text
    doc = r.json()
    words = [w["word"].strip() for s in doc["segments"] for w in s["words"]]
    assert words == CYRILLIC.split() and doc["text"] == CYRILLIC
    assert all(0 <= w["start"] <= w["end"] <= doc["duration"] for s in doc["segments"] for w in s["words"])
    lrc = post(
        tiny_server.url + "/align",
        audio["wav"],
        text=CYRILLIC,
        language="sr",
        format="lrc",
    )
    assert "> Београду. <" in lrc.text


def test_two_models_at_once_beyond_max_loaded(tiny_server, audio):
    """--max-loaded 1 and concurrent requests alternating two runs: every request succeeds with the
    run it asked for (tiny_sr answers in its own language, sr; tiny identifies one), one model stays."""

    def ask(i: int) -> tuple[str, dict]:
        model = ("tiny", "tiny_sr")[i % 2]
        r = post(tiny_server.url + "/align", audio["wav"], text="Dobar dan", model=model)
        assert r.status_code == 200, r.text
        return model, r.json()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, range(6)))
    for asked, doc in answers:
        assert doc["language"] in ("bs", "hr", "sr")
        assert doc["model"] == asked and doc["model_path"].endswith(f"/{asked}")
        expected = ("sr", "model") if asked == "tiny_sr" else (doc["language"], "identified")
        assert (doc["language"], doc["language_source"]) == expected, (asked, doc)
    assert len(requests.get(tiny_server.url + "/health", timeout=30).json()["loaded_models"]) == 1
    assert_nothing_left(tiny_server)
