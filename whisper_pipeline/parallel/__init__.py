"""One seam for the per-file maps of the data stages (intake, preprocessing, alignment, evaluation): a local
process pool by default, or a Ray cluster when ``ParallelSettings.ray_address`` (or
``$WHISPER_PIPELINE_RAY_ADDRESS``) names one. Either way results come back in input order, one item's exception
is that item's ``Outcome.error`` (the others go on), and a worker that dies is retried. Dagster-free."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from whisper_pipeline.parallel.held import held, once
from whisper_pipeline.parallel.settings import LOCAL_CLUSTER, OFF, RAY_ADDRESS_ENV, ParallelSettings
from whisper_pipeline.parallel.worker import Outcome, RemoteError, describe, run_item

R = TypeVar("R")

__all__ = [
    "LOCAL_CLUSTER",
    "OFF",
    "RAY_ADDRESS_ENV",
    "Outcome",
    "ParallelSettings",
    "RemoteError",
    "describe",
    "device_for",
    "held",
    "map_files",
    "once",
]


def map_files(
    fn: Callable[[Any], R],
    items: Sequence[Any],
    *,
    settings: ParallelSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    num_gpus: float = 0,
    in_this_process: bool = False,
) -> list[Outcome[R]]:
    """``fn(item)`` for every item, in worker processes; the outcomes in input order.

    ``fn`` and the items must pickle (a module-level function, ``functools.partial`` of one for fixed
    arguments). ``progress(done, total)`` is called as items finish. CPU work (``num_gpus=0``) runs one torch
    thread per worker; GPU work declares ``num_gpus`` per task to Ray (a fraction shares a device).
    ``in_this_process``: without a Ray address the items run here, one after another, rather than in a pool:
    for work that holds a model (one load, on this process's device and threads; ``fn`` need not pickle).
    """
    settings = settings or ParallelSettings()
    if not items:
        return []
    one_thread = not num_gpus and not in_this_process
    if settings.address():
        from whisper_pipeline.parallel.on_ray import map_ray

        return map_ray(fn, items, settings=settings, num_gpus=num_gpus, one_thread=one_thread, progress=progress)
    if in_this_process:
        return map_here(fn, items, progress)
    from whisper_pipeline.parallel.local import map_local

    return map_local(
        fn,
        items,
        workers=settings.workers,
        max_retries=settings.worker_retries,
        one_thread=one_thread,
        progress=progress,
    )


def map_here(fn: Callable[[Any], R], items: Sequence[Any], progress: Callable[[int, int], None] | None) -> list:
    """The items one after another in this process, each outcome caught as a worker would catch it."""
    outcomes = []
    for n, item in enumerate(items, 1):
        outcomes.append(run_item(fn, item, one_thread=False))
        if progress:
            progress(n, len(items))
    return outcomes


def device_for(settings: ParallelSettings, requested: str | None = "auto") -> str:
    """The device the map's heavy work runs on. Without a Ray address: ``pick_device`` on this machine. On Ray the
    tasks run on the cluster's machines, so ``auto`` asks the cluster (``cuda`` when it has GPUs), not the machine
    this step runs on (a CPU-only run pod sending ``num_gpus=0`` tasks to a GPU cluster); an explicit ``cuda:N``
    becomes ``cuda`` (Ray gives each task its GPU through ``CUDA_VISIBLE_DEVICES``)."""
    from whisper_pipeline.device import pick_device

    if not settings.address():
        return pick_device(requested)
    if requested and requested != "auto":
        return "cpu" if pick_device(requested) == "cpu" else "cuda"
    from whisper_pipeline.parallel.on_ray import connect

    return "cuda" if connect(settings).cluster_resources().get("GPU", 0) > 0 else "cpu"
