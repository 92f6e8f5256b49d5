"""The Definitions object: loads, validates with the dagster CLI, and has the promised shape."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster._core.instance.ref import InstanceRef

from whisper_pipeline.definitions import defs
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.sensors import new_uploads_sensor
from whisper_pipeline_tests.conftest import espeak_wav

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
EXPECTED = [
    "raw_audio",
    "deduped",
    "normalized_transcripts",
    "splits",
    "processed_audio",
    "alignments",
    "checkpoint",
    "eval_report",
]
EXTRA = [
    "hyperparameter_sweep",
    "production_model",
    "data_licenses",
    "review_queue",
]  # beside the main line: sweeps feed checkpoint, promotion follows eval, licences and review follow


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


def test_gpu_work_is_tagged_and_pooled(tmp_path, monkeypatch):
    """The pool "gpu" as a real instance reads configs/dagster.yaml (that it holds steps to one at a
    time is shown by running the three partitions at once: test_parallel_partitions.py)."""
    graph = defs.resolve_asset_graph()
    pooled = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).pools}
    assert pooled == {"checkpoint", "alignments", "eval_report", "hyperparameter_sweep", "review_queue"}
    for name in pooled:
        assert graph.get(dg.AssetKey(name)).pools == {"gpu"}
        assert defs.resolve_assets_def(name).op.tags.get("compute") == "gpu"
    (tmp_path / "dagster.yaml").write_text((REPO / "configs" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_dagster_cli_validates_the_definitions():
    proc = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful" in proc.stderr + proc.stdout


def test_cli_materializes_a_partition(workspace, tmp_path):
    env = {**os.environ, "WHISPER_PIPELINE_HOME": str(workspace.root), "DAGSTER_HOME": str(tmp_path / "dh")}
    (tmp_path / "dh").mkdir()
    proc = subprocess.run(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "whisper_pipeline.definitions",
            "--select",
            "raw_audio,deduped",
            "--partition",
            "hr",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    inventory = pd.read_csv(workspace.manifests / "dataset_inventory.csv")
    assert set(inventory["language"]) == {"hr"} and (inventory["status"] == "ok").sum() == 6, "3 speakers × 2 sentences"
    assert inventory.set_index("filename").loc["hr/hr_bad_uploads/not_audio.wav", "reason_code"] == "undecodable"
    report = json.loads((workspace.manifests / "hr" / "validation_report.json").read_text())
    assert report["kept"] == 6 and report["rejected_by_reason"]["duplicate_exact"] == 1, report
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dh"))) as instance:
        partitions = instance.get_materialized_partitions(dg.AssetKey("deduped"))
    assert partitions == {"hr"}, "the CLI run is recorded in DAGSTER_HOME, for the UI"


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
    assert {p.stem for p in presets} == {
        *("tiny-cpu", "base", "small-gpu", "large-v3-gpu"),
        *("base-gpu-24gb", "base-gpu-80gb", "small-gpu-24gb"),  # batch sizes per GPU memory (issue 16)
    }
    job = defs.resolve_job_def("training_job")
    for preset in presets:
        text = preset.read_text()
        assert "dagster asset materialize" in text.split("ops:")[0], f"{preset.name}: launch command in the header"
        assert dg.validate_run_config(job, yaml.safe_load(text)), preset.name
    assert set(TrainConfig.model_fields) == set(TrainSettings.help()), "one list of settings"


def test_training_runs_through_accelerate_launch():
    from whisper_pipeline.training.cli import accelerate_command

    cpu = accelerate_command(Path("job.json"), 1, "cpu")
    assert (
        cpu[1:3] == ["launch", "--num_machines"]
        and "--cpu" in cpu
        and cpu[-3:] == ["-m", "whisper_pipeline.training.cli", "job.json"]
    )
    multi = accelerate_command(Path("job.json"), 4, "cuda")
    assert "--multi_gpu" in multi and multi[multi.index("--num_processes") + 1] == "4"


def test_retraining_schedule_alerts_and_freshness_are_wired():
    schedule = defs.resolve_schedule_def("retraining_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "0 3 * * 0",
        "UTC",
        "retraining_job",
    ), "weekly by default"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED, "shipped stopped, like the uploads sensor"
    assert defs.resolve_sensor_def("alert_on_run_failure").default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("freshness_checks_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    assert (
        dg.AssetCheckKey(dg.AssetKey("production_model"), "freshness_check")
        in defs.resolve_asset_graph().asset_check_keys
    )
    assert defs.resolve_job_def("retraining_job").graph.node_names() == ["retrain"]
    for name in ("raw_audio", "checkpoint"):
        policy = defs.resolve_assets_def(name).op.retry_policy
        assert policy.max_retries >= 1 and policy.backoff == dg.Backoff.EXPONENTIAL, name


def test_schedule_cron_and_timezone_come_from_the_environment():
    code = (
        "from whisper_pipeline.definitions import defs; s = defs.resolve_schedule_def('retraining_schedule'); "
        "from whisper_pipeline.assets.freshness import production_model_freshness as f; "
        "bound = next(iter(f.check_specs)).metadata['dagster/freshness_params'].data['lower_bound_delta_seconds']; "
        "print(s.cron_schedule, s.execution_timezone, bound)"
    )
    env = {
        **os.environ,
        "WHISPER_PIPELINE_RETRAIN_CRON": "30 2 * * *",
        "WHISPER_PIPELINE_RETRAIN_TIMEZONE": "Europe/Zagreb",
    }
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-7:] == ["30", "2", "*", "*", "*", "Europe/Zagreb", "172800.0"], proc.stdout
    # daily → the freshness check warns after one day plus the one-day margin
