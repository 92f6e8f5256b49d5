"""``map_files`` on its two backends: a local process pool, and a real Ray cluster on 127.0.0.1 (``ray_cluster``)."""

from __future__ import annotations

from functools import partial

import pytest

from whisper_pipeline.parallel import (
    RAY_ADDRESS_ENV,
    ParallelSettings,
    RemoteError,
    describe,
    device_for,
    held,
    map_files,
    once,
)
from whisper_pipeline_tests.parallel.tasks import (
    LOADS,
    always_dying,
    blas_threads,
    load_model,
    raise_unpicklable,
    square_dying_once,
    square_or_fail,
    torch_threads,
)

ITEMS = list(range(20))
LOCAL = ParallelSettings(workers=2)


def summary(outcomes) -> list:
    """What a caller sees of each outcome: the value, or the error as it would report it."""
    return [o.value if o.ok else describe(o.error) for o in outcomes]


def test_address_comes_from_the_setting_else_the_environment_and_off_wins(monkeypatch):
    assert ParallelSettings().address() == ""
    monkeypatch.setenv(RAY_ADDRESS_ENV, "ray://head:10001")
    assert ParallelSettings().address() == "ray://head:10001", "a whole deployment switches with the environment"
    assert ParallelSettings(ray_address="auto").address() == "auto", "the asset's own setting first"
    assert ParallelSettings(ray_address="off").address() == "", "off: a local pool whatever the environment says"


def test_local_pool_keeps_input_order_and_one_items_error_is_its_own():
    seen = []
    outcomes = map_files(square_or_fail, ITEMS, settings=LOCAL, progress=lambda done, total: seen.append((done, total)))
    assert summary(outcomes) == [x * x if x != 13 else "ValueError: item 13 is unlucky" for x in ITEMS]
    assert isinstance(outcomes[13].error, ValueError)
    assert sorted(seen) == [(n, len(ITEMS)) for n in range(1, len(ITEMS) + 1)]
    assert map_files(square_or_fail, [], settings=LOCAL) == []


def test_cpu_workers_compute_with_one_torch_and_one_blas_thread():
    assert {o.value for o in map_files(torch_threads, [0, 1], settings=LOCAL)} == {1}
    parents = blas_threads(0)
    assert {o.value for o in map_files(blas_threads, [0, 1], settings=LOCAL)} == {1}
    assert blas_threads(0) == parents, "the parent's own BLAS is restored after the map"


def test_an_exception_that_cannot_travel_is_reported_by_name_and_text():
    [outcome] = map_files(raise_unpicklable, [7], settings=LOCAL)
    assert isinstance(outcome.error, RemoteError) and describe(outcome.error) == "Unpicklable: cannot travel: 7"


def test_a_process_holds_one_model_per_equal_loader_and_a_failed_load_is_not_retried():
    LOADS.clear()
    a = held(partial(load_model, "a"))
    assert held(partial(load_model, "a")) is a and LOADS == ["a"], "an equal loader (as unpickled per task): no reload"
    assert held(partial(load_model, "b")) is not a and held(partial(load_model, "a")) is not a, "one model at a time"
    assert LOADS == ["a", "b", "a"]
    calls = []

    def broken():
        calls.append(1)
        raise OSError("no such model")

    load = once(broken)
    for _ in range(3):
        with pytest.raises(OSError, match="no such model"):
            held(load)
    assert calls == [1], "a stage whose model cannot load fails once, not once per file"


def test_in_this_process_runs_here_in_order_with_each_items_error():
    outcomes = map_files(lambda x: square_or_fail(x), [12, 13, 14], settings=LOCAL, in_this_process=True)
    assert summary(outcomes) == [144, "ValueError: item 13 is unlucky", 196], "a closure is fine: nothing pickled"


def test_local_pool_reruns_what_a_killed_worker_left_unfinished(tmp_path):
    items = [(x, str(tmp_path), (3, 11)) for x in ITEMS]
    outcomes = map_files(square_dying_once, items, settings=LOCAL)
    assert summary(outcomes) == [x * x for x in ITEMS]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["11.died", "3.died"], "the workers really died"


def test_local_pool_reports_an_item_that_kills_every_worker_and_finishes_the_rest():
    outcomes = map_files(always_dying, [0, 1, 2], settings=ParallelSettings(workers=1, worker_retries=1))
    assert [o.value for o in outcomes[1:]] == [1, 2]
    assert describe(outcomes[0].error).startswith("WorkerDied: its worker process died 2 times")


def test_ray_gives_the_local_outcomes(ray_cluster):
    seen = []
    on_ray = map_files(square_or_fail, ITEMS, settings=ray_cluster, progress=lambda d, t: seen.append((d, t)))
    assert summary(on_ray) == summary(map_files(square_or_fail, ITEMS, settings=LOCAL))
    assert isinstance(on_ray[13].error, ValueError), "the item's own exception, not Ray's wrapper"
    assert seen[-1] == (len(ITEMS), len(ITEMS))
    assert {o.value for o in map_files(torch_threads, [0, 1], settings=ray_cluster)} == {1}
    assert {o.value for o in map_files(blas_threads, [0, 1], settings=ray_cluster)} == {1}


def test_a_process_connected_to_one_cluster_refuses_another_address(ray_cluster):
    map_files(square_or_fail, [1], settings=ray_cluster)
    with pytest.raises(RuntimeError, match="connected to Ray at 'ray://127.0.0.1"):
        map_files(square_or_fail, [1], settings=ParallelSettings(ray_address="ray://127.0.0.1:1"))
    assert map_files(square_or_fail, [2], settings=ray_cluster)[0].value == 4, "the first cluster still works"


def test_ray_retries_a_killed_worker_and_the_map_is_whole(ray_cluster, tmp_path):
    import ray

    assert ray.cluster_resources().get("CPU") == 2, "the test's own 2-CPU cluster"
    items = [(x, str(tmp_path), (2, 9, 17)) for x in ITEMS]
    outcomes = map_files(square_dying_once, items, settings=ray_cluster)
    assert summary(outcomes) == [x * x for x in ITEMS]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["17.died", "2.died", "9.died"], "the workers really died"


def test_ray_reports_an_item_whose_worker_died_past_the_retries(ray_cluster, tmp_path):
    settings = ParallelSettings(ray_address=ray_cluster.ray_address, worker_retries=0)
    outcomes = map_files(square_dying_once, [(1, str(tmp_path), (1,)), (2, str(tmp_path), ())], settings=settings)
    assert outcomes[1].value == 4
    assert isinstance(outcomes[0].error, RemoteError) and "died" in str(outcomes[0].error).lower()


def test_on_ray_auto_is_the_clusters_device_not_the_step_machines(ray_cluster, monkeypatch):
    """A CPU-only step (a run pod) with a GPU cluster: ``auto`` is ``cuda`` (the cluster has a GPU), so the tasks ask
    Ray for one; an explicit device is kept (``cuda:N`` → ``cuda``: Ray picks the GPU); no address: this machine."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_for(ray_cluster, "auto") == "cuda"
    assert device_for(ray_cluster, None) == "cuda"
    assert device_for(ray_cluster, "cuda:1") == "cuda"
    assert device_for(ray_cluster, "cpu") == "cpu"
    assert device_for(ParallelSettings(ray_address="off"), "auto") == "cpu"
    with pytest.raises(ValueError, match="use auto, cpu, cuda"):
        device_for(ray_cluster, "tpu")
