"""bs, hr and sr data preparation at the same time, against one SQLite-backed Dagster instance.

Every partition writes its own part and then rebuilds the combined files (``manifests/splits/*.jsonl``,
``run1*.jsonl``, ``dataset_inventory.csv/.parquet``, ``validation_report.json``,
``dataset_balance.json``) from all parts, so partitions running in parallel must not lose each
other's updates. The GPU work (``alignments``) is in the Dagster pool ``gpu``, limited to 1 by
``configs/dagster.yaml``: three runs reaching it together must take turns.
"""

from __future__ import annotations

import csv
import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml

from whisper_pipeline.data.balance import BalanceRules, build_balance
from whisper_pipeline.data.manifests import combine_jsonl
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.instance import prepare_dagster_home
from whisper_pipeline.io import read_jsonl, write_jsonl
from whisper_pipeline.workspace import LANGUAGES, REPO_ROOT
from whisper_pipeline_tests.pipeline import cli_env

DAGSTER = str(Path(sys.executable).with_name("dagster"))
HOLDER_RUN, HOLDER_STEP = "test-holds-the-gpu-slot", "hold"
STEP_ENDS = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)


def launch_data_prep(lang: str, env: dict[str, str], config: Path, log: Path) -> subprocess.Popen:
    """``dagster job execute`` of one partition, in its own process group (so a failure can stop it all)."""
    cmd = [
        DAGSTER,
        "job",
        "execute",
        "-m",
        "whisper_pipeline.definitions",
        "-j",
        "data_prep_job",
        "--tags",
        json.dumps({"dagster/partition": lang}),
        "-c",
        str(config),
    ]
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def runs_by_partition(instance: dg.DagsterInstance) -> dict[str, dg.DagsterRun]:
    return {r.tags.get("dagster/partition"): r for r in instance.get_runs() if r.job_name == "data_prep_job"}


def step_events(instance: dg.DagsterInstance, run_id: str, step: str) -> list:
    return [e for e in instance.all_logs(run_id) if e.step_key == step]


def wait_until_all_blocked(
    instance: dg.DagsterInstance,
    procs: dict[str, subprocess.Popen],
    logs: dict[str, Path],
    timeout_s: float = 900,
) -> None:
    """Until every partition's ``alignments`` step is waiting for the pool's only slot."""
    deadline = time.time() + timeout_s
    while True:
        for lang, p in procs.items():
            assert p.poll() is None, f"{lang} ended before reaching alignments:\n{logs[lang].read_text()[-4000:]}"
        pending = instance.event_log_storage.get_concurrency_info("gpu").pending_run_ids
        runs = runs_by_partition(instance)
        if len(runs) == len(procs) and {r.run_id for r in runs.values()} <= pending:
            return
        assert time.time() < deadline, f"not all runs reached alignments: pending {pending}, runs {list(runs)}"
        time.sleep(0.5)


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_three_partitions_in_parallel_share_files_and_the_gpu_pool(workspace, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    home = prepare_dagster_home(workspace)  # copies configs/dagster.yaml, as make demo / make dev do
    configured = yaml.safe_load((REPO_ROOT / "configs" / "dagster.yaml").read_text())["concurrency"]["pools"][
        "default_limit"
    ]
    assert configured == 1, "README: the GPU pool runs one step at a time"
    instance = dg.DagsterInstance.from_config(str(home))
    storage = instance.event_log_storage

    # The pool gets the configured default limit; the test holds its only slot until all three runs wait for it,
    # so they really contend (without the pool none would wait and their alignments would overlap).
    assert storage.initialize_concurrency_limit_to_default("gpu")
    info = storage.get_concurrency_info("gpu")
    assert info.slot_count == configured and info.using_default_limit
    assert storage.claim_concurrency_slot("gpu", HOLDER_RUN, HOLDER_STEP).is_claimed

    config = tmp_path / "run_config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                # step processes forked from a server that has imported the pipeline already:
                # seconds, not tens, per step
                "execution": {"config": {"multiprocess": {"start_method": {"forkserver": {}}}}},
                "ops": {"processed_audio": {"config": {"workers": 1}}},
            }
        )
    )
    env = cli_env(workspace, home, tiny_model_dir)
    logs = {lang: tmp_path / f"{lang}.log" for lang in LANGUAGES}
    procs = {lang: launch_data_prep(lang, env, config, logs[lang]) for lang in LANGUAGES}
    try:
        wait_until_all_blocked(instance, procs, logs)
        storage.free_concurrency_slot_for_step(HOLDER_RUN, HOLDER_STEP)
        for lang, p in procs.items():
            assert p.wait(timeout=900) == 0, logs[lang].read_text()[-4000:]
    finally:
        stop_all(list(procs.values()))

    runs = runs_by_partition(instance)
    assert set(runs) == set(LANGUAGES)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs.values())

    # the three runs overlapped in time (they really ran in parallel) …
    spans = {
        lang: (
            min(e.timestamp for e in instance.all_logs(r.run_id)),
            max(e.timestamp for e in instance.all_logs(r.run_id)),
        )
        for lang, r in runs.items()
    }
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values()), spans
    # … each alignments step waited for the pool, and no two ever ran at the same time
    windows = []
    for lang, r in runs.items():
        events = step_events(instance, r.run_id, "alignments")
        assert any("blocked by limit for pool gpu" in (e.message or "") for e in events), f"{lang} never waited"
        start = [e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START]
        end = [e.timestamp for e in events if e.dagster_event_type in STEP_ENDS]
        assert len(start) == len(end) == 1, lang
        windows.append((start[0], end[0], lang))
    windows.sort()
    for (_, end, a), (start, _, b) in itertools.pairwise(windows):
        assert start >= end, f"alignments of {a} and {b} overlapped"
    after = storage.get_concurrency_info("gpu")
    assert not after.claimed_slots and not after.pending_steps, "every slot was given back"

    # every combined file is exactly its per-language parts, in language order
    m = workspace.manifests
    for split in SPLITS:
        parts = [read_jsonl(workspace.split_manifest(lang, split)) for lang in LANGUAGES]
        assert all(parts), f"every language has {split} lines"
        assert read_jsonl(m / "splits" / f"{split}.jsonl") == [r for p in parts for r in p], split
    assert read_jsonl(m / "run1.jsonl") == [
        r for lang in LANGUAGES for s in SPLITS for r in read_jsonl(workspace.split_manifest(lang, s))
    ]
    assert read_jsonl(m / "run1_small.jsonl") == [
        r for lang in LANGUAGES for r in read_jsonl(m / lang / "run1_small.jsonl")
    ]
    inventory_parts = [csv_rows(m / lang / "dataset_inventory.csv") for lang in LANGUAGES]
    assert all(inventory_parts) and csv_rows(m / "dataset_inventory.csv") == [r for p in inventory_parts for r in p]
    parquet_parts = [pd.read_parquet(m / lang / "dataset_inventory.parquet") for lang in LANGUAGES]
    pd.testing.assert_frame_equal(
        pd.read_parquet(m / "dataset_inventory.parquet"),
        pd.concat(parquet_parts, ignore_index=True),
    )
    report = json.loads((m / "validation_report.json").read_text())
    assert report == {lang: json.loads((m / lang / "validation_report.json").read_text()) for lang in LANGUAGES}
    balance = json.loads((m / "dataset_balance.json").read_text())
    expected = json.loads(
        json.dumps(
            build_balance(
                {lang: read_jsonl(m / lang / "deduped.jsonl") for lang in LANGUAGES},
                BalanceRules(),
            )
        )
    )
    assert balance == expected, "the balance audit covers every language's final deduped rows"

    # no speaker in two splits; every language went through alignment into training manifests
    splits_of = defaultdict(set)
    for split in SPLITS:
        for line in read_jsonl(m / "splits" / f"{split}.jsonl"):
            splits_of[(line["language"], line["speaker"])].add(split)
    assert splits_of and all(len(s) == 1 for s in splits_of.values()), {
        k: v for k, v in splits_of.items() if len(v) > 1
    }
    for lang in LANGUAGES:
        processed = [l["id"] for s in SPLITS for l in read_jsonl(workspace.processed_manifest(lang, s))]
        assert sorted(a["file_id"] for a in read_jsonl(m / lang / "alignments.jsonl")) == sorted(processed)
        assert all(workspace.training_manifest(lang, s).is_file() for s in SPLITS)


def _rewrite_and_combine(index: int, parts: list[str], combined: str, rounds: int) -> None:
    """One writer: rewrite its own part ``rounds`` times, rebuilding the combined file after each. Once its
    rebuild is done, the combined file must never again hold an older version of its part (a lost update)."""
    own = Path(parts[index])
    for n in range(rounds):
        write_jsonl(own, [{"writer": index, "round": n, "line": k} for k in range(20)])
        combine_jsonl([Path(p) for p in parts], Path(combined))
        seen = [r["round"] for r in read_jsonl(combined) if r["writer"] == index]
        if not seen or min(seen) < n:
            sys.exit(f"writer {index}: round {n} was overwritten by an older rebuild ({sorted(set(seen))})")


def test_combined_file_loses_no_update_when_rebuilt_concurrently(tmp_path):
    """The shared helper under heavy contention: no rebuild ever replaces a newer part with an older one."""
    writers, rounds = 3, 150
    parts = [str(tmp_path / f"part{i}.jsonl") for i in range(writers)]
    combined = str(tmp_path / "combined.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_rewrite_and_combine, args=(i, parts, combined, rounds)) for i in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * writers
    rows = read_jsonl(combined)
    assert rows == [r for p in parts for r in read_jsonl(p)]
    assert {(r["writer"], r["round"]) for r in rows} == {(i, rounds - 1) for i in range(writers)}
