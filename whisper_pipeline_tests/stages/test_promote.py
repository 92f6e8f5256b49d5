"""The ``production_model`` stage without Dagster: the gates decide, the registry records."""

import json

import pytest

from whisper_pipeline.models import registry
from whisper_pipeline.stages import Markdown, StageError
from whisper_pipeline.stages.promote import PromoteSettings, promote_stage
from whisper_pipeline.workspace import Workspace


class ListLog:
    def __init__(self):
        self.infos = []

    def info(self, msg):
        self.infos.append(msg)

    def warning(self, msg):
        raise AssertionError(msg)

    error = warning


def evaluated(ws: Workspace, run: str, scores: dict, production: dict | None = None) -> None:
    """``run`` evaluated (as ``eval_report`` records it) and trained last: ``scores`` is lang → (WER, CER)."""
    for lang, (wer, cer) in scores.items():
        models = {"finetuned": {"wer": wer, "cer": cer}}
        if production and lang in production:
            models["production"] = {"wer": production[lang][0], "cer": production[lang][1]}
        registry.record_evaluation(ws, run, lang, {"models": models, "comparisons": {}, "run": run})
    registry.set_latest_run(ws, run)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.at(tmp_path / "ws").ensure()


def test_a_run_that_passes_the_gates_becomes_production(ws):
    evaluated(ws, "good", {"hr": (0.30, 0.1), "sr": (0.40, 0.2)})
    log = ListLog()
    meta = promote_stage(ws, PromoteSettings(), log=log).metadata

    assert meta == {
        "run": "good",
        "languages": ["hr", "sr"],
        "wer": {"hr": 0.30, "sr": 0.40},
        "registry": ws.registry,
        "serve": "`python -m whisper_pipeline.serving --preload production` (or `make serve`); "
        "`model=production` in requests",
    }
    assert isinstance(meta["serve"], Markdown)
    saved = json.loads(ws.registry.read_text())
    assert saved["production"]["run"] == "good" and saved["production"]["path"] == str(ws.run_dir("good"))
    assert saved["production"]["reason"] == "gates passed (ceiling 0.8, WER margin 0.02, CER margin 0.02)"
    assert [h["run"] for h in saved["history"]] == ["good"]
    assert log.infos == ["good is now the production model; a running service picks it up on its next request"]

    evaluated(ws, "better", {"hr": (0.25, 0.1)}, production={"hr": (0.30, 0.1)})
    promote_stage(ws, PromoteSettings(wer_ceiling=0.5), log=ListLog())
    assert registry.production_run(ws)["run"] == "better"
    assert [h["run"] for h in registry.load_registry(ws)["history"]] == ["good", "better"]
    assert registry.production_run(ws)["reason"] == "gates passed (ceiling 0.5, WER margin 0.02, CER margin 0.02)"


def test_a_run_that_fails_a_gate_is_refused_on_record_and_production_untouched(ws):
    evaluated(ws, "good", {"hr": (0.30, 0.10)})
    promote_stage(ws, PromoteSettings())
    before = ws.registry.read_bytes()

    evaluated(ws, "worse", {"hr": (0.45, 0.10), "sr": (0.95, 0.5)}, production={"hr": (0.30, 0.10)})
    with pytest.raises(StageError) as err:
        promote_stage(ws, PromoteSettings())
    assert str(err.value) == (
        "worse not promoted: sr: WER 0.95 above the ceiling 0.8; "
        "hr: WER 0.45 is worse than production 0.3 by more than 0.02"
    )
    assert err.value.metadata == {
        "ceiling": {"hr": {"wer": 0.45, "ceiling": 0.8}, "sr": {"wer": 0.95, "ceiling": 0.8}},
        "regression": {
            "hr": {
                "wer": 0.45,
                "production_wer": 0.3,
                "margin": 0.02,
                "significant": None,
                "p_value": None,
                "cer": 0.1,
                "production_cer": 0.1,
                "cer_margin": 0.02,
            },
            "sr": {"production": None},
        },
    }
    after = registry.load_registry(ws)
    assert after["production"] == json.loads(before)["production"], "a refused run leaves production as it was"
    assert after["history"] == json.loads(before)["history"]
    assert registry.last_refusal(ws)["run"] == "worse" and registry.last_refusal(ws)["reason"] == str(err.value)

    # a per-language ceiling and wider margins let it through
    lenient = PromoteSettings(run_name="worse", wer_ceiling_per_language={"sr": 1.0}, regression_margin=0.2)
    promote_stage(ws, lenient)
    assert registry.production_run(ws)["run"] == "worse"


def test_the_cer_gate_and_turning_it_off(ws):
    evaluated(ws, "silent", {"hr": (1.0, 1.0)}, production={"hr": (1.05, 0.46)})
    with pytest.raises(StageError, match=r"^silent not promoted: hr: CER 1.0 is worse than production 0.46 by"):
        promote_stage(ws, PromoteSettings(wer_ceiling=1.5))
    assert registry.production_run(ws) is None and registry.last_refusal(ws)["run"] == "silent"
    promote_stage(ws, PromoteSettings(wer_ceiling=1.5, cer_regression_margin=-1))
    assert registry.production_run(ws)["reason"].endswith("CER margin -1)")


def test_a_run_without_evaluation_cannot_be_promoted(ws):
    with pytest.raises(StageError, match=r"^run \(none\) has no evaluation: materialize eval_report first$"):
        promote_stage(ws, PromoteSettings())
    evaluated(ws, "evaluated", {"hr": (0.3, 0.1)})
    with pytest.raises(StageError, match=r"^run other has no evaluation: materialize eval_report first$"):
        promote_stage(ws, PromoteSettings(run_name="other"))
    assert not ws.registry.exists()
