"""The Definitions object: loads, validates with the dagster CLI, and has the promised shape."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from whisper_pipeline.definitions import defs
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.sensors import new_uploads_sensor
from whisper_pipeline_tests.conftest import espeak_wav

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
EXPECTED = ["raw_audio", "deduped", "normalized_transcripts", "splits", "processed_audio", "alignments",
            "checkpoint", "eval_report"]
EXTRA = ["hyperparameter_sweep", "production_model"]  # beside the main line: sweeps feed checkpoint, promotion follows eval


def test_eight_assets_in_order_with_language_partitions():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == set(EXPECTED + EXTRA)
    for upstream, downstream in zip(EXPECTED, EXPECTED[1:]):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys
    for name in EXPECTED:
        partitions = graph.get(dg.AssetKey(name)).partitions_def
        if name in ("checkpoint", "hyperparameter_sweep"):
            assert partitions is None, "one multilingual model over all languages"
        else:
            assert partitions.get_partition_keys() == ["bs", "hr", "sr"]


def test_gpu_work_is_tagged_and_pooled():
    graph = defs.resolve_asset_graph()
    for name in ("checkpoint", "alignments", "eval_report"):
        assert graph.get(dg.AssetKey(name)).pools == {"gpu"}
        assert defs.resolve_assets_def(name).op.tags.get("compute") == "gpu"
    limit = (Path(__file__).resolve().parent.parent / "configs" / "dagster.yaml").read_text()
    assert "default_limit: 1" in limit


def test_dagster_cli_validates_the_definitions():
    proc = subprocess.run([DAGSTER, "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful" in proc.stderr + proc.stdout


def test_cli_materializes_a_partition(workspace, tmp_path):
    env = {**os.environ, "WHISPER_PIPELINE_HOME": str(workspace.root), "DAGSTER_HOME": str(tmp_path / "dh")}
    (tmp_path / "dh").mkdir()
    proc = subprocess.run([DAGSTER, "asset", "materialize", "-m", "whisper_pipeline.definitions",
                           "--select", "raw_audio,deduped", "--partition", "hr"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (workspace.manifests / "dataset_inventory.csv").is_file()
    assert (workspace.manifests / "hr" / "validation_report.json").is_file()


def test_sensor_requests_a_run_per_language_with_new_audio(workspace):
    resource = WorkspaceResource(root=str(workspace.root))
    with dg.build_sensor_context(resources={"workspace": resource}) as ctx:
        first = list(new_uploads_sensor(ctx))
        assert sorted(r.partition_key for r in first) == ["bs", "hr", "sr"]
        cursor = ctx.cursor
    with dg.build_sensor_context(resources={"workspace": resource}, cursor=cursor) as ctx:
        assert list(new_uploads_sensor(ctx)) == []
        speaker = workspace.uploads / "sr" / "sr_new_speaker"
        speaker.mkdir()
        espeak_wav("Nova rečenica.", "sr", speaker / "u1.wav")
        (speaker / "u1.txt").write_text("Nova rečenica.")
        again = list(new_uploads_sensor(ctx))
        assert [r.partition_key for r in again] == ["sr"]


def test_training_presets_are_valid_run_config():
    import yaml

    from whisper_pipeline.assets.checkpoint import TrainConfig
    from whisper_pipeline.training.settings import TrainSettings

    presets = sorted((REPO / "configs" / "train").glob("*.yaml"))
    assert {p.stem for p in presets} == {"tiny-cpu", "base", "small-gpu", "large-v3-gpu"}
    job = defs.resolve_job_def("training_job")
    for preset in presets:
        text = preset.read_text()
        assert "dagster asset materialize" in text.split("ops:")[0], f"{preset.name}: launch command in the header"
        assert dg.validate_run_config(job, yaml.safe_load(text)), preset.name
    assert set(TrainConfig.model_fields) == set(TrainSettings.help()), "one list of settings"


def test_training_runs_through_accelerate_launch():
    from whisper_pipeline.assets.checkpoint import accelerate_command

    cpu = accelerate_command(Path("job.json"), 1, "cpu")
    assert cpu[1:3] == ["launch", "--num_machines"] and "--cpu" in cpu and cpu[-3:] == ["-m", "whisper_pipeline.training.cli", "job.json"]
    multi = accelerate_command(Path("job.json"), 4, "cuda")
    assert "--multi_gpu" in multi and multi[multi.index("--num_processes") + 1] == "4"
