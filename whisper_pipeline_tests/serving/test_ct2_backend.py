"""The CTranslate2 backend: the export it needs (written at promotion), which backend a model gets, and
the same answer shape on both backends, prompt and temperature included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.models import registry
from whisper_pipeline.serving.backends import choose_backend, ct2_model_of
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.stages.promote import PromoteSettings, promote_stage
from whisper_pipeline.training.package import export_ct2
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_wav

SEGMENT_KEYS = {"start", "end", "text", "words", "avg_logprob", "compression_ratio", "no_speech_prob"}
ANSWER_KEYS = {
    "text",
    "language",
    "language_source",
    "language_probabilities",
    "duration",
    "segments",
    "backend",
    "processing_seconds",
    "real_time_factor",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir) -> Path:
    """A run directory of the tiny model with its CT2 export."""
    run = tmp_path_factory.mktemp("ct2-run") / "tiny"
    shutil.copytree(tiny_model_dir, run)
    export_ct2(run)
    return run


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> np.ndarray:
    wav = espeak_wav("Dobar dan, danas je lijep dan.", "hr+f2", tmp_path_factory.mktemp("ct2-clip") / "c.wav")
    return decode(str(wav))


def test_export_writes_what_faster_whisper_reads(exported, tmp_path):
    from faster_whisper import WhisperModel

    ct2 = exported / "ct2"
    assert {p.name for p in ct2.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "preprocessor_config.json"}
    # transformers 5 writes processor_config.json only; faster-whisper reads the mel settings from this one
    assert json.loads((ct2 / "preprocessor_config.json").read_text())["feature_size"] == 80
    assert json.loads((ct2 / "config.json").read_text())["alignment_heads"] == [[0, 0], [1, 1]]
    model = WhisperModel(str(ct2), device="cpu", compute_type="int8")
    assert model.feature_extractor.mel_filters.shape[0] == 80
    # exporting again replaces the export, and leaves no temporary directory beside it
    before = (ct2 / "model.bin").stat().st_mtime_ns
    export_ct2(exported)
    assert (ct2 / "model.bin").stat().st_mtime_ns != before
    assert sorted(p.name for p in exported.iterdir() if p.name.startswith(".")) == []


def test_export_of_a_directory_without_a_model_is_refused_and_leaves_nothing(tmp_path):
    empty = tmp_path / "notamodel"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="notamodel: no transformers model"):
        export_ct2(empty)
    assert list(empty.iterdir()) == []
    broken = tmp_path / "broken"
    shutil.copytree(empty, broken)
    (broken / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="model_type"):
        export_ct2(broken)
    assert sorted(p.name for p in broken.iterdir()) == ["config.json"], "no half-written export or temp dir"


def test_which_backend_a_model_gets(exported, tiny_model_dir, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(tiny_model_dir, plain, ignore=shutil.ignore_patterns("ct2*"))
    assert choose_backend(str(plain), export=False) == ("transformers", None), "no export yet: transformers"
    assert choose_backend(str(exported)) == ("ct2", exported / "ct2")
    assert choose_backend(str(exported), "transformers") == ("transformers", None)
    assert choose_backend("openai/whisper-small") == ("transformers", None)
    with pytest.raises(ValueError, match="no CTranslate2 export"):
        choose_backend("openai/whisper-small", "ct2")
    # a model without an export gets one on first load, then keeps it
    assert choose_backend(str(plain), "ct2") == ("ct2", plain / "ct2")
    assert registry.ct2_export(plain) == plain / "ct2"
    assert choose_backend(str(plain)) == ("ct2", plain / "ct2")
    with pytest.raises(ValueError, match="backend 'fast'"):
        TranscriptionEngine("cpu", backend="fast")


@pytest.mark.slow
def test_the_builtin_base_is_served_from_its_own_ct2_files(real_base_model):
    """whisper-base ships as CTranslate2: its transformers copy is served from those files, not a new export."""
    source = ct2_model_of(real_base_model)
    assert source is not None and source.name == "whisper-base-ct2" and (source / "model.bin").is_file()
    assert choose_backend(real_base_model) == ("ct2", source)


def test_promotion_exports_and_the_engine_then_uses_ct2(tmp_path, tiny_model_dir, clip):
    ws = Workspace.at(tmp_path / "ws").ensure()
    shutil.copytree(tiny_model_dir, ws.run_dir("good"), ignore=shutil.ignore_patterns("ct2*"))
    for lang in ("hr", "sr"):
        doc = {"models": {"finetuned": {"wer": 0.3, "cer": 0.1}}, "comparisons": {}, "run": "good"}
        registry.record_evaluation(ws, "good", lang, doc)
    registry.set_latest_run(ws, "good")
    engine = TranscriptionEngine("cpu", max_loaded=1, backend="transformers")
    path = str(ws.run_dir("good"))
    assert engine.transcribe(path, clip, "hr")["backend"] == "transformers", "before promotion: no export"
    assert registry.ct2_export(ws.run_dir("good")) is None, "the transformers backend never exports"
    engine.backend = "auto"  # what the service runs; would export on first load, promotion has done it

    meta = promote_stage(ws, PromoteSettings()).metadata
    assert meta["ct2_export"] == ws.run_ct2("good") and registry.ct2_export(ws.run_dir("good")) == ws.run_ct2("good")
    assert registry.production_run(ws)["run"] == "good"
    # the same engine (a running service) switches on its next request
    assert engine.transcribe(path, clip, "hr")["backend"] == "ct2"
    assert engine.loaded() == [path]


@pytest.mark.parametrize("backend", ["ct2", "transformers"])
def test_both_backends_answer_in_the_same_shape(exported, clip, backend):
    engine = TranscriptionEngine("cpu", backend=backend, cpu_threads=1)
    duration = clip.size / 16000
    answers = [
        engine.transcribe(str(exported), clip),  # identified among bs/hr/sr
        engine.transcribe(str(exported), clip, "hr", 2),
        engine.transcribe(str(exported), clip, "sr", prompt="Dobar dan, Zagreb.", temperature=0.4),
        engine.align(str(exported), clip, "Dobar dan, danas je lijep dan.", "hr"),
    ]
    for doc in answers:
        assert set(doc) == ANSWER_KEYS and doc["backend"] == backend
        for seg in doc["segments"]:
            assert set(seg) >= SEGMENT_KEYS, seg.keys()
            assert 0 <= seg["start"] <= seg["end"] <= duration
            for w in seg["words"]:
                assert {"word", "start", "end", "probability"} <= set(w)
                assert 0 <= w["start"] <= w["end"] <= duration
    identified = answers[0]
    assert identified["language_source"] == "identified" and set(identified["language_probabilities"]) == {
        "bs",
        "hr",
        "sr",
    }
    assert sum(identified["language_probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert answers[2]["language"] == "sr" and answers[2]["language_source"] == "request"
    if backend == "ct2":  # faster-whisper gives its per-segment numbers
        assert all(isinstance(s["avg_logprob"], float) for s in answers[1]["segments"])
    with pytest.raises(ValueError, match="temperature"):
        engine.transcribe(str(exported), clip, "hr", temperature=1.5)
