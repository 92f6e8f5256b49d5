"""The review queue's library and stage: the confidence score by hand, the queue of a tiny corpus drafted by a
tiny CTranslate2 model (ranked, sidecar paths, uploads untouched), drafts reused per (audio, model), the base
model while there is no production model, a file that cannot be drafted named, and (slow, real whisper-base)
speech ranked above a tone nobody speaks in."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from whisper_pipeline.review.confidence import confidence
from whisper_pipeline.review.queue import QUEUE_COLUMNS, read_queue
from whisper_pipeline.stages import StageError
from whisper_pipeline.stages.review import ReviewSettings, review_stage
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import tree_digest
from whisper_pipeline_tests.review.conftest import TONE, UNTRANSCRIBED, promote_tiny


def no_base() -> str:
    raise AssertionError("the base model must not be resolved while a production model exists")


def run(ws: Workspace, base=no_base, **settings) -> dict:
    return review_stage(ws, "hr", ReviewSettings(cpu_threads=1, **settings), base, "cpu").metadata


def seg(start, end, logprob, no_speech, ratio, text="riječ"):
    return {
        "start": start,
        "end": end,
        "text": text,
        "avg_logprob": logprob,
        "no_speech_prob": no_speech,
        "compression_ratio": ratio,
    }


def test_confidence_by_hand():
    c = confidence([seg(0, 3, -0.2, 0.1, 1.5), seg(3, 4, -1.0, 0.3, 3.0)])
    logprob = (-0.2 * 3 + -1.0 * 1) / 4  # duration-weighted
    assert c.avg_logprob == pytest.approx(logprob, abs=1e-4)
    assert (c.no_speech_prob, c.compression_ratio) == (0.3, 3.0), "the worst segment counts"
    assert c.score == pytest.approx(math.exp(logprob) * 0.7 * 2.4 / 3.0, abs=1e-4)
    assert confidence([seg(0, 2, -0.1, 0.0, 1.2)]).score == pytest.approx(math.exp(-0.1), abs=1e-4)
    assert confidence([]).score == 0.0 and confidence([seg(0, 1, -0.1, 0.9, 1.0, text=" ")]).score == 0.0
    neutral = confidence([{"start": 0, "end": 1, "text": "a", "avg_logprob": None}])
    assert neutral.score == 1.0 and neutral.avg_logprob is None, "a measure not reported is neutral"


def test_queue_of_transcriptless_audio(review_ws, tiny_ct2_run):
    ws = review_ws
    promote_tiny(ws, tiny_ct2_run)
    before = tree_digest(ws.uploads)
    meta = run(ws)
    assert tree_digest(ws.uploads) == before, "nothing is written into the uploads"
    rows = read_queue(ws.review_queue("hr"))
    expected = {f"hr/{stem}.wav" for stem in [*UNTRANSCRIBED, TONE]}
    assert {r["file"] for r in rows} == expected, "exactly the audio without a transcript"
    assert list(rows[0]) == QUEUE_COLUMNS
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["score"] for r in rows] == sorted(r["score"] for r in rows), "least confident first"
    for r in rows:
        assert Path(r["transcript_path"]) == Path(r["audio"]).with_suffix(".txt")
        assert Path(r["audio"]).is_relative_to(ws.uploads.resolve()) and not Path(r["transcript_path"]).exists()
        assert r["model"].startswith("run:tiny-review@") and 0.0 <= r["score"] <= 1.0 and r["duration_s"] > 0.5
    assert meta["files"] == 3 and meta["drafted_this_run"] == 3 and meta["failed"] == 0
    assert meta["model"] == "production model tiny-review"
    assert meta["hours"] == pytest.approx(sum(r["duration_s"] for r in rows) / 3600, abs=1e-4)
    assert "| rank | file |" in meta["least_confident"] and rows[0]["file"] in meta["least_confident"]
    page = ws.review_page("hr").read_text(encoding="utf-8")
    assert 'src="../../uploads/hr/spk2/c.wav"' in page and "http" not in page.replace("http-equiv", "")


def test_base_model_then_drafts_reused_per_audio_and_model(review_ws, tiny_ct2_run):
    """No production model: the base model drafts (and says so); the same model drafts nothing twice; a new
    production model drafts afresh; a file gone since the intake is named and the others are drafted."""
    ws, calls = review_ws, []

    def base() -> str:
        calls.append(1)
        return str(tiny_ct2_run)

    first = run(ws, base)
    assert calls == [1] and first["model"] == "base model (no production model yet)" and first["files"] == 3
    assert all(r["model"].startswith("base:") for r in read_queue(first["queue"]))
    again = run(ws, base)
    assert (again["drafted_this_run"], again["reused_drafts"]) == (0, 3), "the same model drafts nothing twice"
    assert read_queue(again["queue"]) == read_queue(first["queue"])
    promote_tiny(ws, tiny_ct2_run)
    (ws.uploads / "hr" / "spk2" / "d.wav").unlink()  # after the intake saw it
    newer = run(ws)
    assert newer["model"] == "production model tiny-review" and newer["drafted_this_run"] == 2
    assert newer["failed"] == 1 and "hr/spk2/d.wav" in newer["failures"] and newer["files"] == 2
    assert {r["model"].split("@")[0] for r in read_queue(newer["queue"])} == {"run:tiny-review"}


def test_errors_are_named(review_ws, tiny_ct2_run, tmp_path):
    with pytest.raises(StageError, match="review_queue model 'latest'"):
        run(review_ws, model="latest")
    with pytest.raises(StageError, match="inventory.jsonl missing: materialize raw_audio for hr first"):
        run(Workspace.at(tmp_path / "empty").ensure())
    with pytest.raises(StageError, match=f"base model {tmp_path}: no model there"):
        run(review_ws, lambda: str(tmp_path))
    for name in ("c", "d", "tone"):
        (review_ws.uploads / "hr" / "spk2" / f"{name}.wav").write_bytes(b"gone bad since the intake")
    with pytest.raises(StageError, match=r"no recording of hr could be drafted \(3 failed; first: hr/spk2/c.wav: "):
        run(review_ws, lambda: str(tiny_ct2_run))
    assert not review_ws.review_queue("hr").exists(), "nothing written on errors"


@pytest.mark.slow
def test_real_model_is_surer_of_speech_than_of_a_tone(review_ws, real_base_model):
    meta = run(review_ws, lambda: real_base_model)
    rows = {Path(r["file"]).stem: r for r in read_queue(meta["queue"])}
    assert meta["model"] == "base model (no production model yet)"
    assert rows["tone"]["rank"] == 1, f"the tone is the least confident: {rows}"
    for stem in ("c", "d"):
        assert rows[stem]["score"] > rows["tone"]["score"] + 0.1, rows
        assert rows[stem]["draft"], f"whisper-base hears words in {stem}"
