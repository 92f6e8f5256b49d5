"""The ``processed_audio`` stage without Dagster, on the tiny espeak-ng corpus (Croatian partition)."""

import pytest
import soundfile as sf

from whisper_pipeline.audio.preprocess import PreprocessOptions
from whisper_pipeline.data.balance import BalanceRules
from whisper_pipeline.data.inventory import IntakeRules
from whisper_pipeline.data.splits import SplitSettings
from whisper_pipeline.harvest.sources import HarvestOptions
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.stages import Markdown, StageError
from whisper_pipeline.stages.dedupe import dedupe
from whisper_pipeline.stages.intake import intake
from whisper_pipeline.stages.normalize import normalize
from whisper_pipeline.stages.preprocess import preprocess_stage
from whisper_pipeline.stages.split import split
from whisper_pipeline.text.normalize import NormalizationSettings
from whisper_pipeline.workspace import SPLITS, Workspace

LANG = "hr"
ONE_WORKER = ParallelSettings(workers=1)


class ListLog:
    def __init__(self):
        self.infos, self.warnings, self.errors = [], [], []

    def info(self, msg):
        self.infos.append(msg)

    def warning(self, msg):
        self.warnings.append(msg)

    def error(self, msg):
        self.errors.append(msg)


def split_language(ws: Workspace, lang: str = LANG) -> list[dict]:
    """The stages before ``processed_audio`` for one language; returns its split lines."""
    intake(ws, lang, IntakeRules(), HarvestOptions(harvest=False))
    dedupe(ws, lang, BalanceRules())
    normalize(ws, lang, NormalizationSettings())
    split(ws, lang, SplitSettings())
    return [l for s in SPLITS for l in read_jsonl(ws.split_manifest(lang, s))]


def test_processed_files_at_the_layout_paths_and_a_rerun_converts_nothing(workspace):
    rows = split_language(workspace)
    assert len(rows) == 6, "3 speakers × 2 sentences"
    progress: dict[str, list] = {}
    log = ListLog()
    meta = preprocess_stage(
        workspace,
        LANG,
        PreprocessOptions(),
        ONE_WORKER,
        log=log,
        progress_for=lambda label: lambda done, total: progress.setdefault(label, []).append((done, total)),
    ).metadata

    lines = {s: read_jsonl(workspace.processed_manifest(LANG, s)) for s in SPLITS}
    assert {s: [l["id"] for l in ls] for s, ls in lines.items()} == {
        s: [r["id"] for r in read_jsonl(workspace.split_manifest(LANG, s))] for s in SPLITS
    }
    every = [l for ls in lines.values() for l in ls]
    for line in every:
        assert line["audio"] == str(workspace.processed_audio(LANG, line["id"]))
        info = sf.info(line["audio"])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert line["duration"] <= line["manifest_duration"] and line["source_audio"].startswith(str(workspace.uploads))
    assert sorted(p.name for p in workspace.processed_audio_dir(LANG).iterdir()) == sorted(
        f"{r['id']}.wav" for r in rows
    )
    assert meta["files"] == meta["converted_this_run"] == 6 and meta["reused"] == 0 and meta["failed"] == 0
    assert meta["hours"] == round(sum(l["duration"] for l in every) / 3600, 4) > 0
    trimmed = sum(l["manifest_duration"] - l["duration"] for l in every)
    assert meta["silence_trimmed_hours"] == round(trimmed / 3600, 4)
    assert meta["directory"] == workspace.processed_audio_dir(LANG)
    assert meta["errors"] == "_none_" and isinstance(meta["flagged"], Markdown) and log.errors == []
    assert sorted(progress) == [f"processed {s} ({LANG})" for s in sorted(SPLITS)]
    assert all(calls[-1][0] == calls[-1][1] for calls in progress.values())

    before = {p: p.stat().st_mtime_ns for p in workspace.processed_audio_dir(LANG).iterdir()}
    again = preprocess_stage(workspace, LANG, PreprocessOptions(), ONE_WORKER).metadata
    assert again["converted_this_run"] == 0 and again["reused"] == again["files"] == 6
    assert {p: p.stat().st_mtime_ns for p in workspace.processed_audio_dir(LANG).iterdir()} == before
    assert {s: read_jsonl(workspace.processed_manifest(LANG, s)) for s in SPLITS} == lines


def test_a_failing_file_is_reported_and_the_others_go_on(workspace):
    split_language(workspace)
    train = read_jsonl(workspace.split_manifest(LANG, "train"))
    broken = {**train[0], "id": "hr-broken", "audio": str(workspace.uploads / "missing.wav"), "sha256": "0" * 64}
    write_jsonl(workspace.split_manifest(LANG, "train"), [*train, broken])
    log = ListLog()
    meta = preprocess_stage(workspace, LANG, PreprocessOptions(), ONE_WORKER, log=log).metadata
    assert meta["failed"] == 1 and meta["files"] == 6
    assert len(log.errors) == 1 and "missing.wav" in log.errors[0] and "missing.wav" in meta["errors"]
    assert "hr-broken" not in {l["id"] for l in read_jsonl(workspace.processed_manifest(LANG, "train"))}


def test_a_file_whose_length_differs_from_its_manifest_line_fails_the_stage(workspace):
    split_language(workspace)
    preprocess_stage(workspace, LANG, PreprocessOptions(), ONE_WORKER)
    target = workspace.processed_manifest(LANG, "test")
    lines = read_jsonl(target)
    write_jsonl(target, [{**lines[0], "duration": lines[0]["duration"] + 1.0}, *lines[1:]])
    with pytest.raises(StageError, match="^1 processed files do not match the manifest duration$") as err:
        preprocess_stage(workspace, LANG, PreprocessOptions(), ONE_WORKER)
    assert err.value.metadata["mismatches"].startswith(f"- {lines[0]['audio']}: ")


def test_an_unknown_format_is_refused_before_any_work(workspace):
    with pytest.raises(StageError, match=r"^processed_audio: format must be 'wav' or 'flac', not 'mp3'$"):
        preprocess_stage(workspace, LANG, PreprocessOptions(format="mp3"), ONE_WORKER)
    assert not workspace.processed_manifest(LANG, "train").exists()
    assert PreprocessOptions(format="flac").format_problem() == ""
