"""The service over real HTTP: started with its command line, fed real (espeak-ng) audio in several
formats. The tiny random model checks the contract (formats, errors, limits); the real whisper-base
checks the words and timestamps (slow)."""

import re
import subprocess
from itertools import pairwise

import pytest
import requests

from whisper_pipeline.evaluation.metrics import score
from whisper_pipeline.sample_data import sentences, speak
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import CHROMIUM_ARGS
from whisper_pipeline_tests.serving.conftest import SENTENCE, post, start_service, stop


def test_models_and_health(tiny_service):
    models = requests.get(tiny_service + "/models").json()
    assert models["default"] == "latest" and models["aliases"]["latest"] == "tiny"
    assert sorted(m["id"] for m in models["models"]) == ["broken", "tiny", "tiny_sr"]
    # which backend each run is served on (none of them has a CTranslate2 export: transformers)
    assert {m["id"]: m["backend"] for m in models["models"]} == dict.fromkeys(
        ["broken", "tiny", "tiny_sr"], "transformers"
    )
    assert requests.get(tiny_service + "/health").json()["status"] == "ok"
    assert "/transcribe" in requests.get(tiny_service + "/openapi.json").json()["paths"]


def test_transcribe_answers_every_format(tiny_service, audio):
    r = post(tiny_service + "/transcribe", audio["mp3"])
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model"] == "latest" and doc["file"] == "pozdrav.mp3" and doc["duration"] == pytest.approx(3.1, abs=0.5)
    assert doc["language"] in ("bs", "hr", "sr") and doc["language_source"] == "identified"
    assert sum(doc["language_probabilities"].values()) == pytest.approx(1.0, abs=1e-3), "identified among bs/hr/sr"
    for seg in doc["segments"]:  # a random model's timestamps are clamped to the audio
        assert 0 <= seg["start"] <= seg["end"] <= doc["duration"]
        assert all(0 <= w["start"] <= w["end"] <= doc["duration"] for w in seg["words"])

    fixed = post(tiny_service + "/transcribe", audio["wav"], language="sr", model="tiny").json()
    assert fixed["language"] == "sr" and fixed["language_probabilities"] is None and fixed["model"] == "tiny"
    assert fixed["language_source"] == "request"
    own = post(tiny_service + "/transcribe", audio["wav"], model="tiny_sr").json()
    assert (own["language"], own["language_source"], own["language_probabilities"]) == (
        "sr",
        "model",
        None,
    )
    srt = post(tiny_service + "/transcribe", audio["wav"], language="hr", format="srt")
    assert srt.headers["content-type"].startswith("application/x-subrip")
    assert post(tiny_service + "/transcribe", audio["wav"], language="hr", format="vtt").text.startswith("WEBVTT")
    lrc = post(tiny_service + "/transcribe", audio["wav"], language="hr", format="lrc")
    assert lrc.text.startswith("[ti:pozdrav]\n[la:hr]\n")
    # a download gets the upload's name with the format's extension (curl -OJ)
    assert lrc.headers["content-disposition"] == ("inline; filename=\"pozdrav.lrc\"; filename*=UTF-8''pozdrav.lrc")


def test_bad_requests_are_named(tiny_service, audio):
    bad = post(tiny_service + "/transcribe", audio["bad"])
    assert bad.status_code == 400 and bad.json()["detail"].startswith("notes.wav: undecodable"), bad.text
    unknown = post(tiny_service + "/transcribe", audio["wav"], model="nope")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["detail"].startswith("pozdrav.wav: unknown model 'nope'; available: latest, base, ")
    assert "tiny_sr" in unknown.json()["detail"]
    assert post(tiny_service + "/transcribe", audio["wav"], language="ru").status_code == 422
    assert post(tiny_service + "/transcribe", audio["wav"], format="docx").status_code == 422
    empty_text = post(tiny_service + "/align", audio["wav"], text="  ", language="hr")
    assert empty_text.status_code == 422 and "pozdrav.wav: text is empty" in empty_text.json()["detail"]
    # a model that cannot be loaded (a truncated copy) is a 500 that says what failed, not a bare error page
    broken = post(tiny_service + "/transcribe", audio["wav"], language="hr", model="broken")
    assert broken.status_code == 500, broken.text
    assert broken.json()["detail"].startswith("pozdrav.wav: the model failed (")
    big = audio["wav"].parent / "long.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=stereo",
            "-t",
            "10",
            str(big),
        ],
        check=True,
    )  # 1.7 MB
    too_big = post(tiny_service + "/transcribe", big)
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["detail"] == "upload larger than the 1 MB limit (--max-upload-mb)"


def test_openapi_page_works_offline_in_chromium(tiny_service, chromium):
    """/docs must not need a CDN: the service usually runs where there is no internet."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors, elsewhere = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: elsewhere.append(r.url) if not r.url.startswith(tiny_service) else None,
        )
        page.goto(tiny_service + "/docs")
        page.wait_for_selector(".opblock-summary-path")
        paths = [t.strip() for t in page.locator(".opblock-summary-path").all_inner_texts()]
        assert {"/transcribe", "/align", "/models", "/health"} <= set(paths), paths
        page.locator(".opblock-post").first.locator(".opblock-summary").click()
        expect(page.locator(".opblock-body").first).to_contain_text("language")  # waits for the form to render
        assert errors == [] and elsewhere == [], (errors, elsewhere)
        browser.close()


@pytest.mark.slow
def test_real_model_words_and_karaoke(tmp_path, real_base_model, audio):
    """whisper-base as the base model: recognised words close to what was said, and a known text aligned
    word by word into karaoke LRC (no promotion or run needed: the default falls back to base)."""
    ws = Workspace.at(tmp_path / "ws").ensure()
    proc, url = start_service(ws.root, real_base_model, "--preload", "base")
    try:
        heard = post(url + "/transcribe", audio["mp3"], language="hr").json()
        assert heard["model"] == "base"
        assert score([SENTENCE], [heard["text"]])["cer"] < 0.5, heard["text"]

        aligned = post(url + "/align", audio["wav"], text=SENTENCE, language="hr").json()
        words = [w for s in aligned["segments"] for w in s["words"]]
        assert [w["word"].strip() for w in words] == SENTENCE.split()
        assert words[0]["start"] < 0.5 and words[-1]["end"] <= aligned["duration"] + 0.1
        assert all(a["end"] <= b["start"] + 1e-6 and a["start"] <= a["end"] for a, b in pairwise(words))
        lrc = post(url + "/align", audio["wav"], text=SENTENCE, language="hr", format="lrc").text
        tags = re.findall(r"<(\d\d):(\d\d\.\d\d)>", lrc)
        assert len(tags) == len(words) + len(aligned["segments"]) and "> Zagrebu." in lrc

        # longer than Whisper's 30 s window: transcribed to the end, cues in order
        long_wav = tmp_path / "dugo.wav"
        speak(" ".join(sentences("hr")[:14]), "hr+f2", 130, 50, long_wav)  # ≈ 43 s
        srt = post(url + "/transcribe", long_wav, language="hr", format="srt").text
        ends = [
            float(m[0]) * 60 + float(m[1].replace(",", ".")) for m in re.findall(r"--> 00:(\d\d):(\d\d,\d\d\d)", srt)
        ]
        assert len(ends) >= 6 and ends == sorted(ends) and ends[-1] > 30, srt
    finally:
        stop(proc)
