"""The ``alignments`` stage without Dagster: the tiny random Whisper aligning the espeak-ng corpus, and
the long-form planning (aligned words, subtitle cues, neither) on its own and through the stage."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import soundfile as sf

from whisper_pipeline.alignment.align import AlignmentSettings, load_aligner
from whisper_pipeline.alignment.segment import plan_long_form, trimmed_cues
from whisper_pipeline.audio.preprocess import PreprocessOptions
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.io import read_jsonl, write_json, write_jsonl
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.stages.align import align_stage
from whisper_pipeline.stages.preprocess import preprocess_stage
from whisper_pipeline.workspace import SPLITS, Workspace
from whisper_pipeline_tests.stages.test_preprocess import ListLog, split_language

LANG = "hr"


def processed_lines(ws: Workspace) -> list[dict]:
    split_language(ws, LANG)
    preprocess_stage(ws, LANG, PreprocessOptions(), ParallelSettings(workers=1))
    return [l for s in SPLITS for l in read_jsonl(ws.processed_manifest(LANG, s))]


def never_load():
    raise AssertionError("the aligner must not be loaded when every file is aligned already")


def test_tiny_model_aligns_every_file_and_writes_the_training_manifests(workspace, tiny_model_dir):
    lines = processed_lines(workspace)
    loads, progress, log = [], [], ListLog()

    def loader():
        loads.append(1)
        return load_aligner(tiny_model_dir, "cpu")

    meta = align_stage(
        workspace,
        LANG,
        AlignmentSettings(),
        loader,
        log=log,
        progress=lambda done, total: progress.append((done, total)),
    ).metadata
    assert loads == [1] and progress[-1] == (6, 6)

    results = read_jsonl(workspace.alignments(LANG))
    assert [r["file_id"] for r in results] == [l["id"] for l in lines]
    assert all(r["status"] in {"aligned", "implausible"} and r["words"] > 0 for r in results), results
    for r in results:
        out = workspace.alignment_outputs(r["file_id"])
        assert Path(r["json_path"]).parent == out
        assert {p.suffix for p in out.iterdir()} >= {".json", ".txt", ".srt", ".vtt", ".lrc"}
        doc = json.loads(Path(r["json_path"]).read_text())
        assert doc["text"] == next(l["transcript"] for l in lines if l["id"] == r["file_id"])
    for split in SPLITS:  # every recording is shorter than 30 s: the training lines are the processed ones
        assert read_jsonl(workspace.training_manifest(LANG, split)) == read_jsonl(
            workspace.processed_manifest(LANG, split)
        )

    aligned = sum(r["status"] == "aligned" for r in results)
    assert meta["files"] == meta["aligned_this_run"] == 6 and meta["reused"] == 0 and meta["aligned"] == aligned
    assert meta["coverage"] == round(aligned / 6, 4)
    assert any("timestamps for only" in w for w in log.warnings) == (aligned / 6 < 0.8)
    assert meta["long_form_files"] == meta["segments_from_long_form"] == 0 and meta["long_form"] == "_none_"
    assert meta["training_manifests"] == workspace.training_manifest(LANG, "train").parent
    assert meta["outputs"] == workspace.outputs

    again = align_stage(workspace, LANG, AlignmentSettings(), never_load).metadata
    assert again["aligned_this_run"] == 0 and again["reused"] == 6
    assert read_jsonl(workspace.alignments(LANG)) == results


class EvenAligner:
    """Places the transcript's words evenly over the audio for the files in ``good``, and no words for the
    others (which makes their alignment implausible)."""

    def __init__(self, good: set[str]):
        self.good = good

    def align(self, audio, text, language=None, verbose=None):
        words = text.split() if Path(audio).stem in self.good else []
        duration = sf.info(audio).duration
        step = (duration - 0.2) / max(1, len(words))
        placed = [
            {"word": f" {w}", "start": 0.1 + i * step, "end": 0.1 + (i + 0.9) * step, "probability": 0.9}
            for i, w in enumerate(words)
        ]
        segments = [{"start": 0.1, "end": duration - 0.1, "text": text, "words": placed}] if placed else []
        return type("Result", (), {"to_dict": lambda self: {"segments": segments}})()


def test_long_recordings_are_cut_by_words_or_cues_or_left_out(workspace):
    """With a 1 s limit every clip is long-form: one is cut at its aligned words, one (no usable alignment)
    at its subtitle cues, the others are left out with a warning."""
    lines = processed_lines(workspace)
    by_words, by_cues = lines[0], lines[1]
    shift = by_cues["trim"][0]
    cues = [
        {"start": shift + 0.0, "end": shift + 0.8, "text": "Prvi dio."},
        {"start": shift + 0.8, "end": shift + 1.6, "text": "Drugi dio."},
    ]
    write_json(Path(by_cues["source_audio"]).with_suffix(".cues.json"), {"subtitles": "x.vtt", "cues": cues})
    log = ListLog()
    meta = align_stage(
        workspace, LANG, AlignmentSettings(max_segment_s=1.0), lambda: EvenAligner({by_words["id"]}), log=log
    ).metadata

    status = {r["file_id"]: r["status"] for r in read_jsonl(workspace.alignments(LANG))}
    assert status[by_words["id"]] == "aligned" and list(status.values()).count("aligned") == 1
    training = {s: read_jsonl(workspace.training_manifest(LANG, s)) for s in SPLITS}
    pieces = [l for ls in training.values() for l in ls]
    word_pieces = [p for p in pieces if p["parent"] == by_words["id"]]
    cue_pieces = [p for p in pieces if p["parent"] == by_cues["id"]]
    assert len(word_pieces) >= 2 and len(pieces) == len(word_pieces) + 2
    assert " ".join(p["transcript"] for p in word_pieces) == by_words["transcript"]
    assert [p["transcript"] for p in cue_pieces] == ["Prvi dio.", "Drugi dio."]
    assert [p["offset"] for p in cue_pieces] == pytest.approx([0.0, 0.8])
    for p in pieces:
        assert p["audio"] == str(workspace.segment_audio(LANG, p["id"])) and p["duration"] <= 1.0
        assert p in training[p["split"]] and p["split"] == next(l["split"] for l in lines if l["id"] == p["parent"])
        assert sf.info(p["audio"]).duration == pytest.approx(p["duration"], abs=0.01)

    left_out = [l for l in lines if l not in (by_words, by_cues)]
    assert len(log.warnings) >= len(left_out)
    for l in left_out:
        assert any(
            w.startswith(f"{l['id']}: ") and "left out of training: alignment implausible (no words aligned)" in w
            for w in log.warnings
        ), log.warnings
        assert l["id"] in meta["long_form_left_out"]
    assert meta["long_form_files"] == 2 and meta["segments_from_long_form"] == len(pieces)
    assert "subtitle cues" in meta["long_form"] and "| words |" in meta["long_form"]
    assert meta["aligned"] == 1 and meta["coverage"] == round(1 / 6, 4)
    assert any(w == f"{LANG}: timestamps for only 17% of files (target ≥ 80%)" for w in log.warnings)


def test_keys_the_pipeline_does_not_know_travel_from_the_split_lines_to_the_segments(workspace):
    """A user's own key on a split line is neither dropped nor changed by preprocessing and segmenting."""
    split_language(workspace, LANG)
    for s in SPLITS:
        path = workspace.split_manifest(LANG, s)
        write_jsonl(path, [{**l, "notes": {"checked": l["id"]}} for l in read_jsonl(path)])
    preprocess_stage(workspace, LANG, PreprocessOptions(), ParallelSettings(workers=1))
    processed = [l for s in SPLITS for l in read_jsonl(workspace.processed_manifest(LANG, s))]
    assert len(processed) == 6 and all(l["notes"] == {"checked": l["id"]} for l in processed)
    first = processed[0]["id"]
    align_stage(workspace, LANG, AlignmentSettings(max_segment_s=1.0), lambda: EvenAligner({first}), log=ListLog())
    pieces = [l for s in SPLITS for l in read_jsonl(workspace.training_manifest(LANG, s))]
    assert len(pieces) >= 2 and all(p["parent"] == first and p["notes"] == {"checked": first} for p in pieces)


# --- the long-form plan on its own -----------------------------------------------------------------


def alignment_doc(tmp_path: Path, words: list[tuple[str, float, float]]) -> str:
    path = tmp_path / "transcription_base.json"
    placed = [{"word": f" {w}", "start": s, "end": e} for w, s, e in words]
    write_json(path, {"segments": [{"start": 0.0, "end": 0.0, "text": "", "words": placed}]})
    return str(path)


LINE = ManifestLine(
    id="u1",
    audio="/ws/processed/audio/hr/u1.wav",
    transcript="Prva rečenica. Druga rečenica.",
    duration=9.0,
    language="hr",
    speaker="s1",
    split="train",
    trim=[0.5, 0.2],
)


def test_plan_cuts_an_aligned_recording_at_its_words(tmp_path):
    words = [("Prva", 0.2, 1.0), ("rečenica.", 1.1, 2.5), ("Druga", 5.0, 6.0), ("rečenica.", 6.1, 8.9)]
    alignment = {"status": "aligned", "reason": "", "json_path": alignment_doc(tmp_path, words)}
    segments, how = plan_long_form(LINE, alignment, max_s=5.0)
    assert how == "words"
    assert [s.text for s in segments] == ["Prva rečenica.", "Druga rečenica."]
    assert segments[-1].end == 9.0, "not past the end of the audio"


def test_plan_falls_back_to_subtitle_cues_shifted_onto_the_trimmed_audio(tmp_path):
    source = tmp_path / "video.m4a"
    cues = [{"start": 0.4, "end": 3.0, "text": "Prva rečenica."}, {"start": 4.5, "end": 8.0, "text": "Druga."}]
    write_json(source.with_suffix(".cues.json"), {"subtitles": str(tmp_path / "video.hr.vtt"), "cues": cues})
    line = replace(LINE, source_audio=str(source))
    assert trimmed_cues(line)[0] == {"start": 0.0, "end": 2.5, "text": "Prva rečenica."}
    segments, how = plan_long_form(line, {"status": "implausible", "reason": "x", "json_path": ""}, max_s=5.0)
    assert how == "subtitle cues"
    assert [(s.start, s.end, s.text) for s in segments] == [(0.0, 2.5, "Prva rečenica."), (4.0, 7.5, "Druga.")]
    write_json(source.with_suffix(".cues.json"), cues)  # a bare list of cues is read too
    assert plan_long_form(line, {"status": "failed", "reason": "x", "json_path": ""}, max_s=5.0)[1] == "subtitle cues"


def test_plan_without_alignment_or_cues_says_why(tmp_path):
    line = replace(LINE, source_audio=str(tmp_path / "upload.wav"))
    with pytest.raises(ValueError, match=r"^alignment failed \(RuntimeError: boom\) and no subtitle cues$"):
        plan_long_form(line, {"status": "failed", "reason": "RuntimeError: boom", "json_path": ""})
    words = [("Prva", 0.0, 6.0)]
    with pytest.raises(ValueError, match="longer than 5.0s"):
        plan_long_form(line, {"status": "aligned", "reason": "", "json_path": alignment_doc(tmp_path, words)}, 5.0)
