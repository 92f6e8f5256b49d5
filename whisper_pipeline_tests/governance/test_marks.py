"""The registry's retraining marks: accumulate per run, survive a promotion, absent for other runs."""

from whisper_pipeline.models.registry import mark_needs_retraining, needs_retraining, promote, runs_needing_retraining
from whisper_pipeline.workspace import Workspace


def test_marks_accumulate_and_survive_a_promotion(tmp_path):
    ws = Workspace.at(tmp_path).ensure()
    assert needs_retraining(ws, "r1") is None and runs_needing_retraining(ws) == {}
    mark_needs_retraining(ws, "r1", "first removal", removal="2026-01-01T00:00:00Z")
    promote(ws, "r1", {"hr": 0.3})
    mark = mark_needs_retraining(ws, "r1", "second removal", removal="2026-02-01T00:00:00Z")
    assert mark["reasons"] == ["first removal", "second removal"] and mark["removal"] == "2026-02-01T00:00:00Z"
    assert needs_retraining(ws, "r1")["reason"] == "first removal; second removal"
    assert needs_retraining(ws, "r2") is None and set(runs_needing_retraining(ws)) == {"r1"}
    promote(ws, "r2", {"hr": 0.2})
    assert set(runs_needing_retraining(ws)) == {"r1"}, "a promotion keeps the marks"
