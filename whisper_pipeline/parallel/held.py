"""A model kept by the worker process that loaded it, so a worker aligning or transcribing many files loads it once."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_held: dict[str, Any] = {}  # loader's digest → what it loaded; one entry: a worker holds one model at a time


def held(load: Callable[[], T]) -> T:
    """``load()``, loaded once per process for equal loaders (compared by their pickled bytes: e.g.
    ``partial(load_aligner, model_path, device)``), the previous one dropped. A loader that does not pickle
    (a closure) is simply called: it keeps its own result if it should."""
    try:
        key = hashlib.sha256(pickle.dumps(load)).hexdigest()
    except Exception:  # noqa: BLE001 - any pickling failure
        return load()
    if key not in _held:
        _held.clear()
        _held[key] = load()
    return _held[key]


def once(load: Callable[[], T]) -> Callable[[], T]:
    """``load`` called at most once, its result (or its exception) kept only as long as the returned closure (a
    stage's own model, in the stage's process, released when the stage is done)."""
    kept: list[T] = []
    failed: list[BaseException] = []

    def get() -> T:
        if failed:
            raise failed[0]
        if not kept:
            try:
                kept.append(load())
            except Exception as exc:
                failed.append(exc)
                raise
        return kept[0]

    return get
