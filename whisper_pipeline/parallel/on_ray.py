"""The Ray backend: one task per item (``num_cpus=1``, ``num_gpus`` when asked), re-run by Ray when its worker
dies (``max_retries``); the items' code and data must be reachable on every node (the same image, the workspace
on a shared filesystem at the same path)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from whisper_pipeline.parallel.settings import LOCAL_CLUSTER, ParallelSettings
from whisper_pipeline.parallel.worker import Outcome, RemoteError, run_item

log = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_IN_FLIGHT = 2000  # tasks submitted ahead of the results collected: bounds the driver's memory on huge maps
_connected: str | None = None  # the address this process connected to (None: not by this module)


def connect(settings: ParallelSettings) -> Any:
    """The ``ray`` module, connected to the address in force (``local`` starts a cluster inside this process, with
    ``workers`` CPUs when given). A process works with one cluster: asking for another address than the one this
    module connected to is an error, not a silent run on the first cluster (a connection made by the caller's own
    ``ray.init`` is used as it is)."""
    import ray

    global _connected
    address = settings.address()
    if ray.is_initialized():
        if _connected not in (None, address):
            raise RuntimeError(
                f"this process is connected to Ray at {_connected!r}, and {address!r} was asked for: one process "
                "works with one cluster (give the assets run in one process the same ray_address)"
            )
        return ray
    log.info(f"connecting to Ray at {address}")
    if address == LOCAL_CLUSTER:
        ray.init(address="local", num_cpus=settings.workers or None, include_dashboard=False)
    else:
        _init_with_retries(ray, address)
    _connected = address
    return ray


def _init_with_retries(ray: Any, address: str, attempts: int = 3) -> None:
    """``ray.init(address)``; through Ray Client (``ray://``) a failed start of the server the proxy forks for
    this client (``ConnectionAbortedError``: Ray's gRPC fork, seen under load) is transient: try again."""
    import time

    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=address)
            return
        except ConnectionAbortedError as exc:
            if attempt == attempts or not address.startswith("ray://"):
                raise
            log.warning(f"Ray Client at {address} failed to start a server for this process ({exc}); retrying")
            if ray.is_initialized():
                ray.shutdown()
            time.sleep(2.0 * attempt)


def map_ray(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    settings: ParallelSettings,
    num_gpus: float,
    one_thread: bool,
    progress: Callable[[int, int], None] | None,
) -> list[Outcome]:
    ray = connect(settings)
    task = ray.remote(run_item).options(
        num_cpus=1, num_gpus=num_gpus, max_retries=settings.worker_retries, retry_exceptions=False
    )
    fn_ref = ray.put(fn)  # shipped once, not with every item
    outcomes: list[Outcome | None] = [None] * len(items)
    in_flight: dict[Any, int] = {}
    submitted = done = 0
    while done < len(items):
        while submitted < len(items) and len(in_flight) < MAX_IN_FLIGHT:
            in_flight[task.remote(fn_ref, items[submitted], one_thread)] = submitted
            submitted += 1
        # what is ready within a second, up to 100 at a time: few calls (each an RPC through Ray Client) on huge maps
        ready, _ = ray.wait(list(in_flight), num_returns=min(len(in_flight), 100), timeout=1.0)
        for ref in ready:
            i = in_flight.pop(ref)
            try:
                outcomes[i] = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died more than max_retries times, node lost, ...
                outcomes[i] = Outcome(error=ray_failure(exc))
            done += 1
            if progress:
                progress(done, len(items))
    return outcomes  # type: ignore[return-value]


def ray_failure(exc: Exception) -> RemoteError:
    """What Ray says went wrong with a task, in one line: its last (the cause: ``WorkerCrashedError``'s reason,
    ``ModuleNotFoundError: ...`` when a worker lacks the code), without the terminal colours."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    return RemoteError(type(exc).__name__, lines[-1] if lines else "")
