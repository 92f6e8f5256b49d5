"""Task functions for the seam's tests: module-level, so worker processes (pool or Ray) import them by name."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def square_or_fail(x: int) -> int:
    """x², except for 13, which raises (one bad item among good ones)."""
    if x == 13:
        raise ValueError(f"item {x} is unlucky")
    return x * x


def square_dying_once(item: tuple[int, str, tuple[int, ...]]) -> int:
    """x², but the first time it runs for an x in ``doomed`` its worker process is SIGKILLed mid-map (a marker file
    under ``markers`` says it already died once), as an out-of-memory killer or a lost node would."""
    x, markers, doomed = item
    marker = Path(markers) / f"{x}.died"
    if x in doomed and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def always_dying(x: int) -> int:
    """Kills its worker every time: after the retries the item is reported, not the whole map lost."""
    if x == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


class Unpicklable(Exception):
    def __init__(self, message: str, handle: object):
        super().__init__(message)
        self.handle = handle


def raise_unpicklable(x: int) -> int:
    raise Unpicklable(f"cannot travel: {x}", handle=lambda: x)


def torch_threads(_: int) -> int:
    import torch

    return torch.get_num_threads()


def blas_threads(_: int) -> int:
    """The thread count of numpy's BLAS (OpenBLAS) in this process."""
    import numpy  # noqa: F401 - its BLAS is the one to report
    from threadpoolctl import threadpool_info

    return max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


LOADS: list[str] = []  # what load_model loaded, in this process


def load_model(name: str) -> object:
    LOADS.append(name)
    return object()


def check_crashing_on_wav(item: tuple[str, str]):
    """Intake's in-process check, except that a ``.wav`` kills its worker every time (as a decoder crash on a
    hostile file would)."""
    from whisper_pipeline.audio.inspect import check_audio

    audio, sha = item
    if audio.endswith(".wav"):
        os.kill(os.getpid(), signal.SIGKILL)
    return check_audio(audio, sha256=sha)


def preprocess_killed_once(item: tuple[str, str, str], options, markers: str, doomed: tuple[str, ...]):
    """Preprocessing's real per-file task, but the first run for a source named in ``doomed`` SIGKILLs its worker,
    as an out-of-memory killer or a lost node would: for the first name, at the moment its output is renamed into
    place (the temp file written whole, never moved); for the others, 30 ms in (mid-decode or mid-write; at the
    latest as it finishes, so that run never returns). A marker file says it already died once."""
    import threading

    from whisper_pipeline.audio.preprocess import _process_item

    name = Path(item[0]).name
    marker = Path(markers) / f"{name}.died"
    if name in doomed and not marker.exists():
        marker.touch()
        if name == doomed[0]:
            os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        else:
            threading.Timer(0.03, os.kill, (os.getpid(), signal.SIGKILL)).start()
        _process_item(item, options)
        os.kill(os.getpid(), signal.SIGKILL)
    return _process_item(item, options)
