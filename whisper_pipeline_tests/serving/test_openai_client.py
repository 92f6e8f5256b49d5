"""The OpenAI-compatible API driven by the official ``openai`` client, against the service started with
its command line as a process, with the real whisper-base (one server for the module), API keys on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

import pytest

from whisper_pipeline.evaluation.metrics import score
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import ON_CI
from whisper_pipeline_tests.serving.conftest import SENTENCE, start_service, stop

if ON_CI:  # a missing client must fail CI, not skip it
    import openai
else:
    openai = pytest.importorskip("openai", reason="the openai client (a test dependency) is not installed")

pytestmark = pytest.mark.slow
KEY = "test-openai-key-" + "5d1e"  # made up for the test


@pytest.fixture(scope="module")
def client(tmp_path_factory, real_base_model) -> Iterator:
    ws = Workspace.at(tmp_path_factory.mktemp("openai-ws")).ensure()
    proc, url = start_service(
        ws.root, real_base_model, "--preload", "base", env={"WHISPER_PIPELINE_API_KEYS": KEY, "OMP_NUM_THREADS": "2"}
    )
    try:
        yield openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=300)
    finally:
        stop(proc)


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert ids[:2] == ["whisper-1", "base"], ids
    base = client.models.retrieve("base")
    assert isinstance(base, openai.types.Model) and base.object == "model" and base.owned_by == "openai"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-4o-transcribe")
    assert missing.value.code == "model_not_found"


def test_text_json_and_verbose_json(client, audio):
    with open(audio["mp3"], "rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f, language="hr", response_format="text")
    assert isinstance(text, str) and score([SENTENCE], [text.strip()])["cer"] < 0.5, text

    with open(audio["wav"], "rb") as f:
        plain = client.audio.transcriptions.create(model="base", file=f, language="hr")
    assert isinstance(plain, openai.types.audio.Transcription) and plain.text.strip()
    assert plain.usage.type == "duration" and plain.usage.seconds == pytest.approx(3.1, abs=0.5)

    with open(audio["wav"], "rb") as f:
        doc = client.audio.transcriptions.create(
            model="whisper-1",
            file=f,
            language="hr",
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert isinstance(doc, openai.types.audio.TranscriptionVerbose)
    assert doc.language == "croatian" and doc.duration == pytest.approx(3.1, abs=0.5)
    assert [w.word for w in doc.words] == " ".join(s.text for s in doc.segments).split()
    assert all(0 <= w.start <= w.end <= doc.duration for w in doc.words)
    assert all(a.end <= b.start + 1e-6 for a, b in pairwise(doc.words)), "snapped words do not overlap"
    seg = doc.segments[0]
    # the temperature a segment was decoded at: 0 asked, higher where the backend fell back (faster-whisper)
    assert seg.id == 0 and seg.start <= doc.words[0].start and 0.0 <= seg.temperature <= 1.0
    assert isinstance(seg.seek, int) and isinstance(seg.tokens, list)

    with open(audio["wav"], "rb") as f:
        words_only = client.audio.transcriptions.create(
            model="whisper-1", file=f, language="hr", response_format="verbose_json", timestamp_granularities=["word"]
        )
    assert words_only.words and words_only.segments is None


def test_subtitles_and_karaoke(client, audio):
    with open(audio["wav"], "rb") as f:
        srt = client.audio.transcriptions.create(model="whisper-1", file=f, language="hr", response_format="srt")
    assert re.match(r"1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n\S", srt), srt
    with open(audio["wav"], "rb") as f:
        vtt = client.audio.transcriptions.create(model="whisper-1", file=f, language="hr", response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:"), vtt
    with open(audio["wav"], "rb") as f:  # our extra format passes through the client unchanged
        lrc = client.audio.transcriptions.create(model="whisper-1", file=f, language="hr", response_format="lrc")
    assert lrc.startswith("[ti:pozdrav]\n[la:hr]\n") and re.search(r"<00:0\d\.\d\d> \w", lrc), lrc


def test_errors_are_the_clients_exceptions(client, audio):
    with open(audio["wav"], "rb") as f, pytest.raises(openai.NotFoundError) as unknown:
        client.audio.transcriptions.create(model="whisper-large-v9", file=f)
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"
    with open(audio["wav"], "rb") as f, pytest.raises(openai.BadRequestError) as english:
        client.audio.transcriptions.create(model="whisper-1", file=f, language="en")
    assert english.value.param == "language" and "bs" in english.value.message
    stranger = client.with_options(api_key="test-not-a-key")
    with open(audio["wav"], "rb") as f, pytest.raises(openai.AuthenticationError) as bad_key:
        stranger.audio.transcriptions.create(model="whisper-1", file=f)
    assert bad_key.value.status_code == 401 and bad_key.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_prompt_and_temperature_reach_the_model(client, audio):
    with open(audio["wav"], "rb") as f:
        doc = client.audio.transcriptions.create(
            model="whisper-1",
            file=f,
            language="hr",
            prompt="Dobar dan, Zagreb.",
            temperature=0.2,
            response_format="verbose_json",
        )
    assert doc.text.strip() and doc.segments, doc
    assert all(0.0 <= s.temperature <= 1.0 for s in doc.segments)
    with open(audio["wav"], "rb") as f, pytest.raises(openai.BadRequestError) as hot:
        client.audio.transcriptions.create(model="whisper-1", file=f, language="hr", temperature=1.5)
    assert hot.value.param == "temperature"
