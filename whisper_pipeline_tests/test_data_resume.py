"""The data stages crash (SIGKILL of the ``dagster asset materialize`` process and everything it started)
and are run again: only the unfinished files are redone and the result equals an uninterrupted run.

Each test makes an uninterrupted reference run first, removes its outputs, then starts the same
materialization, freezes it (SIGSTOP) at a moment where some work is done and some is not, records
what is on disk, kills it (SIGKILL) and runs it again in the same workspace, so outputs can be
compared byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import psutil
import pytest

from whisper_pipeline.alignment.align import SNAP_RULE, load_existing
from whisper_pipeline.assets import deduped, normalized_transcripts, raw_audio, splits
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl, write_json
from whisper_pipeline.workspace import REPO_ROOT, Workspace
from whisper_pipeline_tests.pipeline import cli_env, pipeline_resources

LANG = "hr"
DAGSTER = str(Path(sys.executable).with_name("dagster"))
# the step runs inside the CLI process (so the killed process is the one doing the work); one
# preprocessing worker, so files are finished one after another
RUN_CONFIG = {
    "execution": {"config": {"in_process": {}}},
    "ops": {"processed_audio": {"config": {"workers": 1}}},
}


class Cli:
    """``dagster asset materialize`` of one asset for ``LANG`` against a SQLite instance in ``home``."""

    def __init__(self, ws: Workspace, home: Path, model: str, log_dir: Path):
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "configs" / "dagster.yaml", home / "dagster.yaml")
        self.home, self.log_dir, self.count = home, log_dir, 0
        self.env = cli_env(ws, home, model)

    def start(self, asset: str) -> tuple[subprocess.Popen, Path]:
        self.count += 1
        log = self.log_dir / f"{self.count}-{asset}.log"
        cmd = [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "whisper_pipeline.definitions",
            "--select",
            asset,
            "--partition",
            LANG,
            "--config-json",
            json.dumps(RUN_CONFIG),
        ]
        with open(log, "w") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return proc, log

    def run(self, asset: str) -> dict:
        """Materialize to the end; returns the materialization's metadata."""
        proc, log = self.start(asset)
        try:
            code = proc.wait(timeout=900)
        finally:  # a run that hangs must not outlive the test (it has its own session)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert code == 0, log.read_text()[-5000:]
        return self.metadata(asset)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def metadata(self, asset: str) -> dict:
        event = self.instance().fetch_materializations(dg.AssetKey(asset), limit=1).records[0].event_log_entry
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}

    def recover(self) -> list[str]:
        """What an operator does after a crash (the UI's terminate and "free slots"): the dead run, still
        STARTED, is marked failed and the pool slots it claimed are given back; returns the pools it held.
        Dagster cannot tell that a CLI run's process died, so its GPU slot would otherwise block every
        later GPU step forever."""
        instance = self.instance()
        (dead,) = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
        storage = instance.event_log_storage
        held = [
            key
            for key in storage.get_concurrency_keys()
            if dead.run_id in storage.get_concurrency_info(key).active_run_ids
        ]
        instance.report_run_failed(dead, "killed (SIGKILL) by the test")
        storage.free_concurrency_slots_for_run(dead.run_id)
        return held


def freeze_when(proc: subprocess.Popen, log: Path, ready: Callable[[], bool], timeout_s: float = 600) -> None:
    """SIGSTOP the whole process group as soon as ``ready()``: what is on disk then stays as it is."""
    deadline = time.time() + timeout_s
    try:
        while not ready():
            assert proc.poll() is None, f"the run ended before it could be killed:\n{log.read_text()[-3000:]}"
            assert time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.01)
    except BaseException:
        if proc.poll() is None:  # never leave a run behind when the test fails
            kill(proc)
        raise
    os.killpg(proc.pid, signal.SIGSTOP)


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def digests(root: Path, pattern: str = "*") -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob(pattern))
        if p.is_file() and not p.name.startswith(".")
    }


def stamp(path: Path) -> tuple[int, int]:
    """Inode and modification time: both change when a file is written again (atomic writes rename a new inode)."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


@pytest.fixture
def prepared(workspace, tiny_model_dir, tmp_path) -> tuple[Workspace, Cli]:
    """hr through ``splits`` (in this process), and a CLI against a fresh SQLite instance."""
    result = dg.materialize(
        [raw_audio, deduped, normalized_transcripts, splits],
        partition_key=LANG,
        resources=pipeline_resources(workspace, tiny_model_dir),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return workspace, Cli(workspace, tmp_path / "dagster_home", tiny_model_dir, tmp_path)


def test_killed_preprocessing_redoes_only_unfinished_files(prepared):
    ws, cli = prepared
    audio_dir, manifest_dir = (
        ws.processed / "audio" / LANG,
        ws.manifests / "processed" / LANG,
    )
    total = sum(len(read_jsonl(ws.split_manifest(LANG, s))) for s in SPLITS)
    reference = cli.run("processed_audio")
    assert reference["files"] == reference["converted_this_run"] == total > 3
    expected = {**digests(audio_dir), **digests(manifest_dir)}
    shutil.rmtree(audio_dir)
    shutil.rmtree(manifest_dir)

    proc, log = cli.start("processed_audio")
    freeze_when(
        proc,
        log,
        lambda: audio_dir.is_dir() and any(not p.name.startswith(".") for p in audio_dir.glob("*.wav")),
    )
    done = {p: stamp(p) for p in audio_dir.glob("*.wav") if not p.name.startswith(".")}
    kill(proc)
    assert 0 < len(done) < total, "killed mid-run"
    assert cli.recover() == [], "preprocessing is CPU work, in no pool"

    meta = cli.run("processed_audio")
    assert (meta["converted_this_run"], meta["reused"]) == (
        total - len(done),
        len(done),
    ), "only the unfinished files are redone"
    assert {p: stamp(p) for p in done} == done, "finished files are not written again"
    assert {**digests(audio_dir), **digests(manifest_dir)} == expected, (
        "same files and manifests as an uninterrupted run"
    )
    assert not [p for p in audio_dir.iterdir() if p.name.startswith(".")], "no temp files left by the killed run"


def tear(path: Path) -> None:
    """Truncate a UTF-8 file as a torn write leaves it: inside its first multi-byte character (č, ž…) if it
    has one, else halfway."""
    data = path.read_bytes()
    cut = next((i + 1 for i, b in enumerate(data) if b >= 0xC0), len(data) // 2)
    path.write_bytes(data[:cut])


def test_a_torn_alignment_json_is_not_reused(tmp_path):
    """A JSON cut inside a character is not valid UTF-8: it must count as unfinished, not stop the asset."""
    doc = {
        "text": "Sutra će biti sunčano.",
        "boundaries_snapped_to_speech": True,
        "snap_rule": SNAP_RULE,
        "segments": [],
    }
    target = tmp_path / "u1" / "transcription_base.json"
    write_json(target, {**doc, "snap_rule": None})
    (target.parent / "karaoke.lrc").write_text("[00:00.00]\n")
    assert load_existing(tmp_path / "u1", "u1", doc["text"]) is None, "snapped by an older rule: aligned again"
    write_json(target, doc)
    assert load_existing(tmp_path / "u1", "u1", doc["text"]) is not None
    tear(target)
    assert load_existing(tmp_path / "u1", "u1", doc["text"]) is None


def test_killed_alignment_redoes_only_unfinished_files_and_a_torn_json(prepared):
    ws, cli = prepared
    cli.run("processed_audio")
    lines = [l for s in SPLITS for l in read_jsonl(ws.processed_manifest(LANG, s))]
    ids = [l["id"] for l in lines]
    outputs = [ws.outputs / i for i in ids]
    reference = cli.run("alignments")
    assert reference["files"] == len(ids) > 3

    def snapshot() -> dict[str, str]:
        listing = ws.lang_manifests(LANG) / "alignments.jsonl"
        return {
            **{f"{o.name}/{k}": v for o in outputs for k, v in digests(o).items()},
            **digests(ws.manifests / "training" / LANG),
            listing.name: hashlib.sha256(listing.read_bytes()).hexdigest(),
        }

    expected = snapshot()
    for o in outputs:
        shutil.rmtree(o)
    shutil.rmtree(ws.manifests / "training" / LANG)
    (ws.lang_manifests(LANG) / "alignments.jsonl").unlink()

    proc, log = cli.start("alignments")
    # frozen once two files are finished: one stays intact (reuse), one is torn (redone)
    freeze_when(proc, log, lambda: sum((o / "karaoke.lrc").is_file() for o in outputs) >= 2)
    done = {o: {p: stamp(p) for p in o.iterdir()} for o in outputs if (o / "karaoke.lrc").is_file()}
    kill(proc)
    assert 2 <= len(done) < len(ids), "killed mid-run"
    assert cli.recover() == ["gpu"], "the killed alignment held the GPU pool's slot"
    torn = next(iter(done))
    tear(torn / "transcription_base.json")
    del done[torn]

    meta = cli.run("alignments")
    assert meta["aligned_this_run"] == len(ids) - len(done) and meta["reused"] == len(done)
    assert {o: {p: stamp(p) for p in o.iterdir()} for o in done} == done, "finished alignments are not redone"
    assert snapshot() == expected, "same outputs, training manifests and alignment list as an uninterrupted run"


def test_intake_killed_before_its_cache_is_saved_loses_nothing(prepared):
    ws, cli = prepared
    part = ws.lang_manifests(LANG)
    names = [
        "intake_cache.json",
        "inventory.jsonl",
        "dataset_inventory.csv",
        "dataset_inventory.parquet",
    ]
    expected = {n: (part / n).read_bytes() for n in names}
    assert json.loads(expected["intake_cache.json"])["by_path"], "the uninterrupted run cached every file"
    for n in names:
        (part / n).unlink()

    proc, log = cli.start("raw_audio")

    def decoding() -> bool:  # ffprobe/ffmpeg at work on an upload: the inventory is being built
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
            return any(c.name() in ("ffmpeg", "ffprobe") for c in children)
        except psutil.NoSuchProcess:
            return False

    freeze_when(proc, log, decoding)
    assert not (part / "intake_cache.json").exists() and not (part / "inventory.jsonl").exists(), (
        "killed before the save"
    )
    kill(proc)
    cli.recover()

    meta = cli.run("raw_audio")
    assert meta["decoded_this_run"] == len({r["sha256"] for r in read_jsonl(part / "inventory.jsonl") if r["sha256"]})
    for n in ("intake_cache.json", "inventory.jsonl", "dataset_inventory.csv"):
        assert (part / n).read_bytes() == expected[n], f"{n} differs from the uninterrupted run"
