"""yt-dlp harvesting against a real HTTP server on 127.0.0.1 (never the internet)."""

import functools
import http.server
import json
import subprocess
import threading

import dagster as dg
import pytest

from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.harvest.sources import HarvestSettings, Source, SourcesError, SourcesFile, load_sources
from whisper_pipeline.harvest.subtitles import cues_to_text, parse_subtitles
from whisper_pipeline.harvest.ytdlp import harvest
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline_tests.conftest import espeak_wav, tree_digest

VTT = """WEBVTT

00:00:00.000 --> 00:00:01.800
Dobar dan,

00:00:01.800 --> 00:00:03.900
ovo je <i>predavanje</i> o jeziku.
"""
SRT = """1
00:00:00,000 --> 00:00:01,500
Prva rečenica.

2
00:00:01,500 --> 00:00:03,000
<b>Druga</b> rečenica &amp; kraj.
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A local web server: a direct audio URL, and a page with <audio> and a Croatian subtitle track."""
    root = tmp_path_factory.mktemp("site")
    wav = espeak_wav("Dobar dan, ovo je predavanje o jeziku.", "hr", root / "talk.wav")
    for name, args in {"talk.ogg": ["-c:a", "libvorbis"], "direct.mp3": ["-b:a", "64k"]}.items():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), *args, str(root / name)], check=True)
    (root / "talk.hr.vtt").write_text(VTT, encoding="utf-8")
    (root / "lecture.html").write_text(
        "<!doctype html><html><head><title>Predavanje o jeziku</title></head><body>"
        '<audio controls src="talk.ogg"><track kind="subtitles" srclang="hr" label="Hrvatski" src="talk.hr.vtt">'
        "</audio></body></html>",
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sources(base: str, **settings) -> SourcesFile:
    return SourcesFile(
        settings=HarvestSettings(retries=1, backoff_s=0.05, **settings),
        sources=[
            Source(url=f"{base}/lecture.html", language="hr", license="CC-BY-4.0"),
            Source(url=f"{base}/direct.mp3", language="hr", speaker="ana", use_subtitles=False),
            Source(url=f"{base}/missing.ogg", language="hr"),
            Source(url=f"{base}/direct.mp3", language="sr", speaker="not-this-partition"),
        ],
    )


def test_harvest_downloads_audio_subtitles_and_provenance_then_nothing_new(site, tmp_path):
    uploads, archive = tmp_path / "uploads", tmp_path / "archive.txt"
    first = harvest(sources(site), uploads, archive, language="hr")
    assert sorted(r.status for r in first) == ["downloaded", "downloaded", "failed"]
    failed = next(r for r in first if r.status == "failed")
    assert "missing.ogg" in failed.source_url and "404" in failed.reason

    lecture = next(r for r in first if r.source_url.endswith("lecture.html"))
    audio = tmp_path / lecture.audio
    assert audio.is_file() and audio.parent.parent == uploads / "hr"
    assert audio.with_suffix(".txt").read_text().strip() == "Dobar dan, ovo je predavanje o jeziku."
    cues = json.loads(audio.with_suffix(".cues.json").read_text())["cues"]
    assert [(c["start"], c["end"]) for c in cues] == [(0.0, 1.8), (1.8, 3.9)]
    provenance = json.loads(audio.with_suffix(".source.json").read_text())
    assert provenance["source_url"].endswith("lecture.html") and provenance["license"] == "CC-BY-4.0"
    assert provenance["extractor"] and provenance["id"] and provenance["downloaded_at"]
    assert provenance["title"] == "Predavanje o jeziku (1)"
    direct = next(r for r in first if r.source_url.endswith("direct.mp3"))
    assert (uploads / "hr" / "ana").is_dir() and not (tmp_path / direct.audio).with_suffix(".txt").exists()

    before = tree_digest(uploads)
    second = harvest(sources(site), uploads, archive, language="hr")
    assert sorted(r.status for r in second) == ["already_downloaded", "already_downloaded", "failed"]
    assert tree_digest(uploads) == before, "a second run downloads and rewrites nothing"


def test_size_limit_filters_items(site, tmp_path):
    result = harvest(sources(site, max_filesize_mb=0.001), tmp_path / "u", tmp_path / "a.txt", language="hr")
    assert {r.status for r in result} == {"filtered", "failed"}
    assert any("max-filesize" in r.reason for r in result if r.status == "filtered")


def test_sources_file_is_validated_with_clear_errors(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text(
        "sources:\n  - url: file:///etc/passwd\n    language: hr\n  - url: https://x.org/v\n    language: de\n"
    )
    with pytest.raises(SourcesError) as err:
        load_sources(bad)
    message = str(err.value)
    assert str(bad) in message and "sources.0.url" in message and "only http(s)" in message
    assert "sources.1.language" in message
    assert load_sources(tmp_path / "absent.yaml").sources == []


def test_subtitle_parsing_vtt_and_srt():
    assert cues_to_text(parse_subtitles(VTT)) == "Dobar dan, ovo je predavanje o jeziku."
    srt = parse_subtitles(SRT)
    assert [c["text"] for c in srt] == ["Prva rečenica.", "Druga rečenica & kraj."]
    assert srt[1]["start"] == 1.5 and srt[1]["end"] == 3.0


def test_raw_audio_harvests_then_inventories(site, tmp_path):
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - url: {site}/lecture.html\n    language: hr\n    license: CC0\n")
    root = tmp_path / "ws"
    result = dg.materialize(
        [raw_audio],
        partition_key="hr",
        resources={"workspace": WorkspaceResource(root=str(root))},
        run_config={"ops": {"raw_audio": {"config": {"sources_file": str(config)}}}},
    )
    assert result.success
    rows = read_jsonl(root / "manifests" / "hr" / "inventory.jsonl")
    assert len(rows) == 1 and rows[0]["status"] == "ok"
    assert rows[0]["transcript"] == "Dobar dan, ovo je predavanje o jeziku."
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["harvested"].value == {"downloaded": 1}
