"""What runs around each item in a worker process, the same on either backend: the process set up once, and
the item's exception caught and sent back as a value, so one bad file never stops the others."""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

R = TypeVar("R")

_ready = False  # per worker process


class RemoteError(Exception):
    """An exception that could not travel back from its worker as itself (unpicklable), or the worker's death."""

    def __init__(self, type_name: str, message: str):
        super().__init__(message)
        self.type_name = type_name

    def __reduce__(self) -> tuple:
        return RemoteError, (self.type_name, str(self))


def describe(exc: BaseException) -> str:
    """``Type: message``, as callers have always reported a failed file, whichever process raised it."""
    name = exc.type_name if isinstance(exc, RemoteError) else type(exc).__name__
    return f"{name}: {exc}"


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """One item's result: ``value``, or the ``error`` it raised."""

    value: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def one_compute_thread() -> None:
    """Each worker process computes with one thread: the processes provide the parallelism (N workers × N
    threads would oversubscribe the cores). torch is not imported for this (seconds per new worker, for stages that
    no longer need it): one already imported is set to one thread, one imported later reads the variable. numpy's
    BLAS is not touched here: calling into OpenBLAS in a forked worker can hang it, so the local pool forks its
    workers with the parent's BLAS at one thread (``map_local``), and Ray starts each 1-CPU worker with
    ``OMP_NUM_THREADS=1``, which OpenBLAS reads as it loads."""
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def portable(exc: BaseException) -> BaseException:
    """``exc`` itself when it can be pickled back to the caller, else a ``RemoteError`` with its name and text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RemoteError(type(exc).__name__, str(exc))


def run_item(fn: Callable[[Any], R], item: Any, one_thread: bool) -> Outcome[R]:
    """Call ``fn(item)`` in a worker; set the process up first when it is new."""
    global _ready
    if one_thread and not _ready:
        one_compute_thread()
        _ready = True
    try:
        return Outcome(value=fn(item))
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        return Outcome(error=portable(exc))
