"""`make demo`'s program end to end on a small corpus with the tiny random model: every job runs, the
gates' verdicts are shown, and a model that fails them is reported as not promoted (not a crash)."""

import json
import os
import subprocess
import sys

from whisper_pipeline.io import read_jsonl
from whisper_pipeline.models.registry import load_registry
from whisper_pipeline.workspace import Workspace


def test_demo_runs_every_job_and_reports_the_gates(tmp_path, tiny_model_dir):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "ops:\n  checkpoint:\n    config:\n      run_name: demo-tiny\n      max_steps: 2\n"
        "      batch_size: 4\n      predict_with_generate: false\n"
    )
    env = {**os.environ, "WHISPER_PIPELINE_HOME": str(tmp_path / "ws"), "WHISPER_PIPELINE_BASE_MODEL": tiny_model_dir}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "whisper_pipeline.demo",
            "--train-config",
            str(config),
            "--languages",
            "hr",
            "--speakers",
            "3",
            "--sentences",
            "2",
            "--conditions",  # the default set multiplies evaluation time; one noise and one non-noise condition
            "pink_10db",
            "telephone",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "failed wer_below_ceiling" in out, "a random model is far above the ceiling"
    assert "promotion: not promoted: demo-tiny not promoted: hr: WER" in out
    assert "WER under degraded conditions (base / tuned):" in out
    assert all(any(row.startswith(c) for row in out.splitlines()) for c in ("clean", "pink_10db", "telephone"))
    assert "hr: 2 degraded conditions added " in out
    for step in ("data_prep_job [hr]", "training_job", "evaluation_job [hr]", "promotion_job"):
        assert step in out
    ws = Workspace.at(tmp_path / "ws")
    assert "Plotly" in (ws.reports / "demo-tiny" / "index.html").read_text()
    evaluation = json.loads((ws.manifests / "eval_demo-tiny.json").read_text())["hr"]
    assert evaluation["utterances"] > 0 and evaluation["models"]["finetuned"]["wer"] is not None
    assert list(evaluation["conditions"]) == ["pink_10db", "telephone"]
    aligned = read_jsonl(ws.manifests / "hr" / "alignments.jsonl")
    assert len(aligned) == 6 and all(a["status"] in {"aligned", "implausible"} and a["words"] > 0 for a in aligned), (
        aligned
    )
    assert load_registry(ws)["production"] is None
    assert (ws.dagster_home / "dagster.yaml").is_file(), "runs recorded in the workspace's instance for `make dev`"
