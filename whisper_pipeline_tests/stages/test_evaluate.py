"""The ``eval_report`` stage without Dagster: the tiny random Whisper scored on real espeak-ng clips."""

import base64
import json
import shutil

import pytest

from whisper_pipeline.evaluation.report import SCHEMA_VERSION, EvalSettings
from whisper_pipeline.io import write_json, write_jsonl
from whisper_pipeline.models import registry
from whisper_pipeline.stages import Markdown, StageError
from whisper_pipeline.stages.evaluate import evaluate_stage, models_to_compare
from whisper_pipeline.workspace import Workspace
from whisper_pipeline_tests.conftest import espeak_16k

TEXTS = ["Dobar dan svima.", "Kiša pada cijeli dan.", "Idemo u grad sutra."]
KEYS = {
    "dashboard", "summary", "run", "test_utterances", "wer", "wer_ci95", "cer", "errors", "wer_by_speaker",
    "comparisons", "real_time_factor", "report",
}  # fmt: skip


class ListLog:
    def __init__(self):
        self.infos, self.warnings = [], []

    def info(self, msg):
        self.infos.append(msg)

    def warning(self, msg):
        self.warnings.append(msg)

    def error(self, msg):
        raise AssertionError(msg)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Decoding a 64-wide model gains nothing from threads; on a busy 2-core machine two torch threads
    waiting on each other make it ~4× slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def test_lines(tmp_path_factory) -> list[dict]:
    """Three Croatian clips by two speakers, 16 kHz mono as processed_audio leaves them."""
    d = tmp_path_factory.mktemp("eval-clips")
    lines = []
    for i, text in enumerate(TEXTS):
        audio = espeak_16k(text, "hr", d / f"u{i}.wav")
        lines.append(
            {
                "id": f"u{i}",
                "speaker": f"s{i % 2}",
                "duration": 1.5,
                "audio": str(audio),
                "transcript": text,
                "language": "hr",
                "split": "test",
            }
        )
    return lines


@pytest.fixture
def ws(tmp_path, tiny_model_dir, test_lines) -> Workspace:
    """A workspace with the hr test split and a trained run ``tiny`` (the latest)."""
    ws = Workspace.at(tmp_path / "ws").ensure()
    write_jsonl(ws.training_manifest("hr", "test"), test_lines)
    shutil.copytree(tiny_model_dir, ws.run_dir("tiny"))
    registry.set_latest_run(ws, "tiny")
    return ws


def test_the_latest_run_against_the_base_model(ws, tiny_model_dir):
    # another language evaluated by an older version: kept, but left off the dashboard with a warning
    write_json(ws.evaluation("tiny").part("sr"), {"schema_version": 1, "models": {"finetuned": {"wer": 0.5}}})
    log = ListLog()
    settings = EvalSettings(batch_size=2, conditions=["pink_10db"])
    meta = evaluate_stage(ws, "hr", settings, base_source=tiny_model_dir, device="cpu", log=log).metadata

    conditions = {"condition_wer", "conditions_seconds", "wer_pink_10db"}
    assert set(meta) == KEYS | conditions | {"base_wer", "base_cer", "wer_change"}
    doc = json.loads(ws.evaluation("tiny").part("hr").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION and doc["run"] == "tiny" and doc["utterances"] == 3
    assert set(doc["models"]) == {"finetuned", "base"} and doc["models"]["base"]["model"] == tiny_model_dir
    assert doc["models"]["finetuned"]["model"] == str(ws.run_dir("tiny"))
    assert set(doc["comparisons"]) == {"finetuned_vs_base"}
    combined = json.loads(ws.evaluation("tiny").combined.read_text())
    assert combined["run"] == "tiny" and combined["hr"] == doc and combined["sr"]["schema_version"] == 1
    assert registry.last_evaluated_run(ws) == "tiny"

    ft = doc["models"]["finetuned"]
    assert meta["run"] == "tiny" and meta["test_utterances"] == 3
    assert meta["wer"] == ft["wer"] and meta["cer"] == ft["cer"] and isinstance(meta["wer"], float)
    assert meta["wer_ci95"] == list(ft["wer_ci95"])
    assert meta["errors"] == {k: ft[k] for k in ("substitutions", "deletions", "insertions")}
    assert meta["wer_by_speaker"] == {"s0": ft["by_speaker"]["s0"]["wer"], "s1": ft["by_speaker"]["s1"]["wer"]}
    assert json.loads(json.dumps(meta["comparisons"])) == doc["comparisons"]
    assert meta["real_time_factor"] == ft["real_time_factor"] > 0
    assert meta["report"] == ws.evaluation("tiny").combined
    assert meta["base_wer"] == doc["models"]["base"]["wer"] and meta["base_cer"] == doc["models"]["base"]["cer"]
    assert meta["wer_change"] == round(ft["wer"] - meta["base_wer"], 4) == 0.0, "the same model twice"
    pink = doc["conditions"]["pink_10db"]["models"]
    assert meta["condition_wer"] == {"pink_10db": {"finetuned": pink["finetuned"]["wer"], "base": pink["base"]["wer"]}}
    assert meta["wer_pink_10db"] == pink["finetuned"]["wer"] and meta["conditions_seconds"] > 0

    assert meta["dashboard"] == ws.report_dir("tiny") / "index.html"
    page = meta["dashboard"].read_text()
    assert "Plotly" in page and "u1" in page and '"sr"' not in page, "the stale language is not shown"
    assert "Robustness (hr)" in page and "<td>hr</td><td>pink_10db</td>" in page
    png = (ws.report_dir("tiny") / "summary.png").read_bytes()
    assert isinstance(meta["summary"], Markdown)
    assert meta["summary"] == f"![WER per language](data:image/png;base64,{base64.b64encode(png).decode()})"

    assert log.warnings == ["not on the dashboard until re-evaluated (older evaluation format): sr"]
    assert [m for m in log.infos if "transcribed" in m] == [
        "finetuned transcribed 2/3 (hr)",
        "finetuned transcribed 3/3 (hr)",
        "finetuned (pink_10db) transcribed 2/3 (hr)",
        "finetuned (pink_10db) transcribed 3/3 (hr)",
        "base transcribed 2/3 (hr)",
        "base transcribed 3/3 (hr)",
        "base (pink_10db) transcribed 2/3 (hr)",
        "base (pink_10db) transcribed 3/3 (hr)",
    ]
    assert log.infos[-2].startswith("hr: 1 degraded conditions scored in ")
    assert log.infos[-1] == f"hr: WER {ft['wer']} CER {ft['cer']} (base WER {meta['base_wer']})"


def test_a_named_run_against_the_production_model(ws, tiny_model_dir):
    shutil.copytree(tiny_model_dir, ws.run_dir("prod"))
    registry.promote(ws, "prod", {"hr": 0.9})
    shutil.copytree(tiny_model_dir, ws.run_dir("newer"))
    settings = EvalSettings(run_name="newer", batch_size=3, compare_base=False, conditions=[])
    meta = evaluate_stage(ws, "hr", settings, base_source="/nowhere/not/resolved", device="cpu", log=ListLog())
    meta = meta.metadata

    assert set(meta) == KEYS | {"production_run", "production_wer"}
    doc = json.loads(ws.evaluation("newer").part("hr").read_text())
    assert set(doc["models"]) == {"finetuned", "production"} and set(doc["comparisons"]) == {"finetuned_vs_production"}
    assert doc["models"]["production"]["model"] == str(ws.run_dir("prod"))
    assert meta["production_run"] == "prod" and meta["production_wer"] == doc["models"]["production"]["wer"]
    assert meta["run"] == "newer" and registry.last_evaluated_run(ws) == "newer"
    assert not ws.evaluation("tiny").part("hr").exists(), "the latest run was not evaluated"


def test_which_models_are_compared(ws, tiny_model_dir):
    entry = registry.promote(ws, "tiny", {"hr": 0.9})
    everything = EvalSettings()
    assert models_to_compare(ws, "tiny", everything, tiny_model_dir, entry) == {
        "finetuned": str(ws.run_dir("tiny")),
        "base": tiny_model_dir,
    }, "the production run is not compared with itself"
    other = {**entry, "run": "old"}
    assert models_to_compare(ws, "tiny", everything, tiny_model_dir, other)["production"] == entry["path"]
    assert "production" not in models_to_compare(
        ws, "tiny", EvalSettings(compare_production=False), tiny_model_dir, other
    )
    gone = {"run": "gone", "path": str(ws.run_dir("gone"))}
    assert "production" not in models_to_compare(ws, "tiny", everything, tiny_model_dir, gone), "deleted since"
    assert models_to_compare(ws, "tiny", EvalSettings(compare_base=False), "/not/resolved", None) == {
        "finetuned": str(ws.run_dir("tiny"))
    }


def test_what_cannot_be_evaluated(ws, tmp_path):
    empty = Workspace.at(tmp_path / "empty").ensure()
    with pytest.raises(StageError, match=r"^No trained model for run \(latest\): materialize checkpoint first$"):
        evaluate_stage(empty, "hr", EvalSettings())
    (ws.run_dir("crashed") / "checkpoints").mkdir(parents=True)
    with pytest.raises(StageError, match=r"^No trained model for run crashed: materialize checkpoint first$"):
        evaluate_stage(ws, "hr", EvalSettings(run_name="crashed"))
    write_jsonl(ws.training_manifest("hr", "test"), [])
    with pytest.raises(StageError, match=r"^hr: the test split is empty \(needs at least 2 speakers\)$"):
        evaluate_stage(ws, "hr", EvalSettings())
    assert not ws.evaluation("tiny").combined.exists() and not ws.last_evaluated_marker.exists()
