"""End to end with the real whisper-base on a few real (espeak-ng) clips: slow, kept to one language."""

import json

import pytest

from whisper_pipeline.io import read_jsonl
from whisper_pipeline_tests.pipeline import latest_metadata, materialize_everything


@pytest.mark.slow
def test_whole_graph_with_real_whisper_base(workspace, real_base_model):
    instance, checks = materialize_everything(workspace, real_base_model, ["hr"],
                                      {"run_name": "real", "max_steps": 2, "batch_size": 4})
    alignments = read_jsonl(workspace.manifests / "hr" / "alignments.jsonl")
    assert sum(a["status"] == "aligned" for a in alignments) / len(alignments) >= 0.8
    doc = json.loads(open(alignments[0]["json_path"]).read())
    words = [w for s in doc["segments"] for w in s["words"]]
    assert len(words) >= 3
    assert all(0 <= w["start"] <= w["end"] for w in words)
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in zip(words, words[1:]))
    assert (workspace.outputs / alignments[0]["file_id"] / "transcription_base.txt").is_file()

    report = json.loads((workspace.manifests / "eval_real.json").read_text())["hr"]
    base = report["models"]["base"]
    assert base["utterances"] == report["utterances"] > 0 and 0 <= base["cer"] < 2
    meta = latest_metadata(instance, "eval_report", "hr")
    assert {"wer", "cer", "base_wer", "base_cer"} <= set(meta)
