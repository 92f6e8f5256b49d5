"""`dagster dev` (webserver + daemon) shows the ten assets (the eight of the main line, the sweep and the
promotion) with their partitions, and a
partitioned materialization launched through its GraphQL API (what the UI's Materialize button
calls) runs to success."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster import DagsterRunStatus

from whisper_pipeline.io import read_jsonl
from whisper_pipeline_tests.conftest import free_port

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")


def graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


@pytest.fixture
def dagster_dev(workspace, tiny_model_dir, tmp_path):
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "configs" / "dagster.yaml").read_text())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "WHISPER_PIPELINE_HOME": str(workspace.root),
        "WHISPER_PIPELINE_BASE_MODEL": tiny_model_dir,
        "WHISPER_PIPELINE_DEVICE": "cpu",
    }
    proc = subprocess.Popen(
        [DAGSTER, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # a shell's background job (CI run with `&`, nohup) starts with Ctrl-C ignored, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if graphql(port, "{ version }")["version"]:
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("dagster dev did not start within 180 s")
        yield port
    finally:
        stop_dagster_dev(proc)


def stop_dagster_dev(proc: subprocess.Popen) -> None:
    """Ctrl-C, as a user stops it (``dagster dev`` then stops its webserver, daemon and code server), then the
    whole process group the hard way if that is not done within seconds."""
    started = time.time()
    for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.kill(proc.pid, sig) if sig == signal.SIGINT else os.killpg(proc.pid, sig)
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    print(f"dagster dev stopped in {time.time() - started:.1f} s ({sig.name})")
    try:  # anything of its group still there (a child it did not wait for)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_ui_lists_assets_and_materializes_a_partition(dagster_dev, workspace):
    from dagster_graphql import DagsterGraphQLClient

    port = dagster_dev
    nodes = []
    for _ in range(60):  # the code location loads in the background
        nodes = graphql(port, "{ assetNodes { assetKey { path } partitionKeys } }")["assetNodes"]
        if nodes:
            break
        time.sleep(1)
    partitions = {n["assetKey"]["path"][-1]: n["partitionKeys"] for n in nodes}
    assert len(partitions) == 12  # ten pipeline assets, data_licenses and review_queue
    assert partitions["raw_audio"] == ["bs", "hr", "sr"] and partitions["checkpoint"] == []
    assert partitions["review_queue"] == ["bs", "hr", "sr"]

    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    run_id = client.submit_job_execution("data_prep_job", tags={"dagster/partition": "sr"})
    deadline = time.time() + 300
    status = None
    while time.time() < deadline:
        status = client.get_run_status(run_id)
        if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            break
        time.sleep(2)
    assert status == DagsterRunStatus.SUCCESS
    train = read_jsonl(workspace.manifests / "splits" / "sr" / "train.jsonl")
    assert train and {l["language"] for l in train} == {"sr"}
    assert not any("\u0400" <= ch <= "\u04ff" for l in train for ch in l["transcript"]), (
        "sr Cyrillic transcribed to Latin"
    )
    aligned = read_jsonl(workspace.manifests / "sr" / "alignments.jsonl")
    assert len(aligned) == 6 and all(a["status"] in {"aligned", "implausible"} and a["words"] > 0 for a in aligned), (
        aligned
    )
    materialized = graphql(
        port,
        '{ assetOrError(assetKey: {path: ["alignments"]}) { ... on Asset { '
        'assetMaterializations(partitions: ["sr"]) { runId } } } }',
    )
    assert [m["runId"] for m in materialized["assetOrError"]["assetMaterializations"]] == [run_id]
