"""Request ids and one JSON access-log line per request.

``X-Request-ID`` is taken from the client when it is printable ASCII of at most 128 characters (so it
can be echoed in a header and a log line unchanged), else a new one is made; it is on every answer,
errors included, and on every log line written while the request runs. Routes and the admission
queue add what they know (model, audio seconds, queue wait) to the request's record with ``note``;
the access line is written when the answer has been sent.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
ACCESS = logging.getLogger("whisper_pipeline.serving.access")
ERRORS = logging.getLogger("whisper_pipeline.serving")
VALID_ID = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces: safe in a header and a log
# the running request's record; a dict (not a value) so that a worker thread, which runs in a copy of
# the context, fills in the same record the middleware logs
_record: contextvars.ContextVar[dict | None] = contextvars.ContextVar("request_record", default=None)


def note(**fields: object) -> None:
    """Add fields to the running request's access-log record (no-op outside a request)."""
    record = _record.get()
    if record is not None:
        record.update(fields)


def current_id() -> str | None:
    record = _record.get()
    return record["request_id"] if record else None


def request_id_from(headers: Headers) -> str:
    """The client's id when it is acceptable, else a new random one (a bad id is replaced, not refused:
    a tracing header must never be why a transcription fails)."""
    given = headers.get(HEADER.lower(), "")
    return given if VALID_ID.fullmatch(given) else uuid.uuid4().hex


class RequestLogMiddleware:
    """Outermost layer: sets the request id before anything can answer (401, 413, 503 included), adds
    it to the answer's headers, and writes the access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client = scope.get("client")
        record: dict = {
            "request_id": request_id_from(Headers(scope=scope)),
            "method": scope["method"],
            "path": scope["path"],
            "status": None,
            "client": client[0] if client else None,
        }
        token = _record.set(record)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                MutableHeaders(scope=message)[HEADER] = record["request_id"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # logged here, with the request id, and answered with it (Starlette's own 500 page would be
            # sent from outside this layer, without the header)
            ERRORS.exception("unhandled error in %s %s", record["method"], record["path"])
            if record["status"] is not None:
                raise  # the answer has started: nothing more can be sent
            body = {"detail": f"internal error (request id {record['request_id']})"}
            await JSONResponse(body, 500)(scope, receive, send_with_id)
        finally:
            record["status"] = record["status"] or 500
            record["duration_s"] = round(time.perf_counter() - started, 3)
            processing, audio = record.get("processing_s"), record.get("audio_seconds")
            if processing and audio:
                record["rtf"] = round(processing / audio, 4)
            ACCESS.info("%s %s %s", record["method"], record["path"], record["status"], extra={"access": record})
            _record.reset(token)


FIELDS = ("model", "audio_seconds", "queue_wait_s", "processing_s", "rtf")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id when there is one, the
    access record's fields on access lines, and the traceback on errors."""

    converter = time.gmtime  # the "Z" in the time stamp

    def format(self, record: logging.LogRecord) -> str:
        doc: dict = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if access is not None:
            doc.update({"request_id": None, **access})
            for name in FIELDS:
                doc.setdefault(name, None)
        else:
            doc["message"] = record.getMessage()
            doc["request_id"] = getattr(record, "request_id", None)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level message [request id]`` for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        line = super().format(record)
        if access is None:
            rid = getattr(record, "request_id", None)
            return f"{line} [{rid}]" if rid else line
        extra = " ".join(f"{k}={access[k]}" for k in (*FIELDS, "duration_s") if access.get(k) is not None)
        return f"{line} {extra} [{access['request_id']}]"


class RequestIdFilter(logging.Filter):
    """Stamps the running request's id on every record (error logs written inside a request carry it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_id()
        return True


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """The service's and uvicorn's loggers to stderr in ``json`` or ``text``; uvicorn's own access log
    is replaced by ours (it has no request id, no model, no timings)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(RequestIdFilter())
    for name in ("whisper_pipeline", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
