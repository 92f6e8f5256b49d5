"""Back-pressure: a bounded queue in front of the model. Every call that runs inference goes through
``app.state.admission`` (``Admission.run``), so at most ``concurrency`` calls run and at most
``max_queue`` wait; one more is refused at once with 503 and a ``Retry-After`` estimated from recent
processing times, and one that waited longer than ``queue_timeout`` seconds is refused with 503 too.
Before this, every request waited its turn: 8 clients sending a 3 s clip saw a p95 of 16.7 s, and the
wait grew with the queue with no bound.

Call it from a plain (``def``) route, which FastAPI runs in a worker thread; it blocks while waiting.
``ticket`` reserves a place first, for a route that wants to decode the upload while it waits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from whisper_pipeline.serving import request_log

T = TypeVar("T")
ErrorBuilder = Callable[[str, int, str, dict[str, str]], Response]  # (path, status, message, headers)


class Busy(HTTPException):
    """503 with ``Retry-After``: the queue is full, or the request waited past the timeout."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(503, message, headers={"Retry-After": str(retry_after)})


class Ticket:
    """A place in the queue; ``run`` waits for a slot (up to what is left of the timeout) and runs."""

    def __init__(self, admission: Admission, name: str) -> None:
        self.admission, self.name = admission, name
        self.since = time.monotonic()

    def run(self, call: Callable[[], T]) -> T:
        adm = self.admission
        left = adm.queue_timeout - (time.monotonic() - self.since)
        if left <= 0 or not adm._slots.acquire(timeout=left):
            waited = time.monotonic() - self.since
            request_log.note(queue_wait_s=round(waited, 3))
            with adm._lock:
                adm.timed_out += 1
            raise Busy(
                f"{self.name}: waited {waited:.1f} s for the model, longer than the {adm.queue_timeout:g} s "
                "limit (--queue-timeout); try again later",
                adm.retry_after(),
            )
        started = time.monotonic()
        request_log.note(queue_wait_s=round(started - self.since, 3))
        try:
            return call()
        finally:
            took = time.monotonic() - started
            request_log.note(processing_s=round(took, 3))
            adm._slots.release()
            with adm._lock:
                adm._recent = 0.8 * adm._recent + 0.2 * took if adm._recent else took


class Admission:
    """At most ``concurrency`` calls running and ``max_queue`` waiting, each for at most ``queue_timeout``
    seconds. Thread-safe; one per process (the model runs one inference at a time anyway)."""

    def __init__(self, max_queue: int = 4, queue_timeout: float = 120.0, concurrency: int = 1) -> None:
        if max_queue < 0 or concurrency < 1 or queue_timeout <= 0:
            raise ValueError("max_queue must be ≥ 0, concurrency ≥ 1 and queue_timeout > 0")
        self.max_queue, self.queue_timeout, self.concurrency = max_queue, queue_timeout, concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._inside = 0  # tickets held: running + waiting
        self._recent = 0.0  # moving average of processing seconds, for Retry-After
        self.refused = 0
        self.timed_out = 0

    def run(self, name: str, call: Callable[[], T]) -> T:
        """``call()`` once a slot is free; ``Busy`` (503) when the queue is full or the wait too long.
        ``name`` (the upload's name) starts the message."""
        with self.ticket(name) as ticket:
            return ticket.run(call)

    @contextmanager
    def ticket(self, name: str) -> Iterator[Ticket]:
        """A place in the queue, refused (``Busy``) at once when ``concurrency + max_queue`` are taken."""
        with self._lock:
            if self._inside >= self.concurrency + self.max_queue:
                self.refused += 1
                full = True
            else:
                self._inside += 1
                full = False
        if full:
            raise Busy(
                f"{name}: the service is busy ({self.max_queue} requests already waiting, --max-queue); "
                "try again later",
                self.retry_after(),
            )
        try:
            yield Ticket(self, name)
        finally:
            with self._lock:
                self._inside -= 1

    def count_refusal(self) -> None:
        """A request refused for a full queue before it got to ``ticket`` (``RefuseWhenFull``)."""
        with self._lock:
            self.refused += 1

    def full(self) -> bool:
        """Whether a new request would be refused now (checked before reading an upload's body)."""
        with self._lock:
            return self._inside >= self.concurrency + self.max_queue

    def retry_after(self) -> int:
        """Whole seconds until a place is likely free: a place frees when the running call ends, so about
        one call's recent processing time (not the whole queue's: clients told to wait that long leave the
        model idle once the queue drains; measured by ``bench/serving_load.py``)."""
        with self._lock:
            per_call = self._recent or 5.0
        return max(1, min(600, math.ceil(per_call / self.concurrency)))

    def stats(self) -> dict:
        """For ``/health``: how many are inside now, and refusals since start."""
        with self._lock:
            return {
                "inside": self._inside,
                "max_queue": self.max_queue,
                "concurrency": self.concurrency,
                "queue_timeout_s": self.queue_timeout,
                "refused_full": self.refused,
                "refused_timeout": self.timed_out,
            }


class RefuseWhenFull:
    """503 for an inference request that arrives while the queue is full, before its body (an upload of
    up to ``--max-upload-mb``) is read, so a flood of refused uploads costs neither memory nor disk.
    ``Admission.ticket`` still decides for the requests that pass (this is only the cheap early check)."""

    def __init__(self, app: ASGIApp, admission: Admission, paths: tuple[str, ...], error: ErrorBuilder) -> None:
        self.app, self.admission, self.paths, self.error = app, admission, paths, error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith(self.paths)
            and self.admission.full()
        ):
            self.admission.count_refusal()
            waiting = self.admission.max_queue
            message = f"the service is busy ({waiting} requests already waiting, --max-queue); try again later"
            headers = {"Retry-After": str(self.admission.retry_after()), "Connection": "close"}
            await self.error(scope["path"], 503, message, headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)
