"""The default backend: a process pool on this machine.

A worker that dies (killed, out of memory, a crashing decoder) breaks the whole pool, and every item it had not
finished with it. Those run again in a fresh pool, up to ``worker_retries`` times as Ray retries a lost task; the
last retry runs each item in a process of its own, so an item that kills its worker every time is reported alone
and the innocent items queued beside it still finish."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from typing import Any

from threadpoolctl import threadpool_limits

from whisper_pipeline.parallel.worker import Outcome, RemoteError, run_item

Progress = Callable[[int, int], None]


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        with threadpool_limits(1, user_api="blas"):
            yield
    finally:
        if before is None:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = before


def default_workers(n_items: int) -> int:
    return max(1, min(n_items, os.cpu_count() or 1))


def _died(times: int) -> Outcome:
    return Outcome(error=RemoteError("WorkerDied", f"its worker process died {times} times (killed or out of memory)"))


def _in_one_pool(fn: Callable, items: Sequence, pending: list[int], workers: int, one_thread: bool, report) -> list:
    """Run ``pending`` in one pool; the indices left unfinished when a worker died."""
    broken = []
    with ProcessPoolExecutor(max_workers=min(workers, len(pending))) as pool:
        futures = {pool.submit(run_item, fn, items[i], one_thread): i for i in pending}
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except BrokenProcessPool:
                broken.append(futures[fut])
                continue
            except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled back
                outcome = Outcome(error=exc)
            report(futures[fut], outcome)
    return sorted(broken)


def _alone(fn: Callable, item: Any, one_thread: bool, times: int) -> Outcome:
    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(run_item, fn, item, one_thread).result()
        except BrokenProcessPool:
            return _died(times)


def map_local(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    workers: int,
    max_retries: int,
    one_thread: bool,
    progress: Progress | None,
) -> list[Outcome]:
    """With ``one_thread``, the workers start while this process's BLAS (numpy's OpenBLAS) is set to one thread,
    so each has one: several threads per worker would oversubscribe the cores (OpenBLAS's idle threads spin: the
    VAD's GEMMs cost twice the CPU time with two), and a forked child must not call into OpenBLAS to change it (it
    can hang). Forked workers (Linux's default up to Python 3.13) inherit the limit; spawned ones read
    ``OPENBLAS_NUM_THREADS``, set meanwhile. Both are process-wide and restored after: one map at a time."""
    with _one_blas_thread() if one_thread else nullcontext():
        outcomes: list[Outcome | None] = [None] * len(items)
        workers = workers or default_workers(len(items))
        done = 0

        def report(i: int, outcome: Outcome) -> None:
            nonlocal done
            outcomes[i], done = outcome, done + 1
            if progress:
                progress(done, len(items))

        pending = list(range(len(items)))
        for _ in range(max(1, max_retries)):  # the first run and all but the last retry: one shared pool
            pending = _in_one_pool(fn, items, pending, workers, one_thread, report)
            if not pending:
                return outcomes  # type: ignore[return-value]
        if not max_retries:
            for i in pending:
                report(i, _died(1))
            return outcomes  # type: ignore[return-value]
        with ThreadPoolExecutor(max_workers=workers) as threads:  # the last retry: each item alone, `workers` at a time
            alone = threads.map(lambda i: _alone(fn, items[i], one_thread, max_retries + 1), pending)
            for i, outcome in zip(pending, alone):
                report(i, outcome)
        return outcomes  # type: ignore[return-value]
