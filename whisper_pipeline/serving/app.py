"""The HTTP API. ``POST /transcribe`` and ``POST /align`` take an audio upload (any format ffmpeg
reads) and answer JSON with word timestamps, or plain text, SRT, WebVTT or enhanced (karaoke) LRC.
``GET /models`` lists what can be asked for; ``GET /docs`` is the OpenAPI page (works offline).

Uploads are decoded from a private temporary directory under a fixed name (never one the client
chose) and never kept. A request body over the upload limit is refused before it is read when its
``Content-Length`` says so, and as soon as the limit is passed when it is streamed (chunked).
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.datastructures import FormData, Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from whisper_pipeline.alignment.formats import to_lrc, to_srt, to_vtt
from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.audio.in_process import decode_lossless, lossless_duration
from whisper_pipeline.serving import request_log
from whisper_pipeline.serving.admission import Admission, RefuseWhenFull
from whisper_pipeline.serving.auth import ApiKeyMiddleware, KeyChecker
from whisper_pipeline.serving.catalog import ModelCatalog, UnknownModel
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.serving.openai_api import OpenAIError, create_router, error_response, is_openai_path
from whisper_pipeline.serving.request_log import RequestLogMiddleware
from whisper_pipeline.workspace import LANGUAGES

Language = Enum("Language", {lang: lang for lang in LANGUAGES}, type=str)


class OutputFormat(str, Enum):  # noqa: UP042 (str() of a member must stay its qualified name)
    json = "json"
    txt = "txt"
    srt = "srt"
    vtt = "vtt"
    lrc = "lrc"


log = logging.getLogger("whisper_pipeline.serving")
MEDIA_TYPES = {
    "txt": "text/plain",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "lrc": "text/plain",
}
CHUNK = 1 << 20
AudioUpload = Annotated[UploadFile, File(description="Audio in any format ffmpeg reads")]
ModelField = Annotated[str, Form(description="Run name, production, latest or base; empty = the default")]
LanguageField = Annotated[Language | None, Form(description="Empty: identified among bs, hr, sr")]
FormatField = Annotated[OutputFormat, Form()]
# Starlette's detail for a body over ``max_body_size``; answered with our own message instead
BODY_TOO_LARGE = "Content Too Large"


def create_app(
    catalog: ModelCatalog,
    engine: TranscriptionEngine,
    max_upload_mb: float = 200.0,
    max_audio_minutes: float = 60.0,
    admission: Admission | None = None,
    api_keys: list[str] | None = None,
    max_store_gb: float = 20.0,
) -> FastAPI:
    """The service; ``max_upload_mb`` bounds a request body (file and form fields),
    ``max_audio_minutes`` the decoded audio (a small compressed file can hold days of it), ``admission``
    the requests running and waiting for the model; ``api_keys``: none → open; ``max_store_gb``: the
    file store's uploads together (0: no limit)."""
    # the /docs and /redoc pages with their JS and CSS served from the package, not a CDN (offline machines)
    app = FastAPIOffline(
        title="whisper-pipeline transcription service",
        description="Bosnian/Croatian/Serbian speech to text with word timestamps, using any trained model.",
    )
    # a declared Content-Length over the limit is refused before the body is read; a body without one
    # is counted by FastAPI's max_body_size as it streams and refused once past the limit, before
    # Starlette has spooled it all to disk
    body_limit = int(max_upload_mb * CHUNK)
    # every inference call goes through it (routes added elsewhere too): bounded queue, 503 when full
    app.state.admission = admission = admission or Admission()
    max_seconds = max_audio_minutes * 60

    too_large = f"upload larger than the {max_upload_mb:g} MB limit (--max-upload-mb)"
    # outermost last: request id and access log → API key → busy before the body → declared size
    app.add_middleware(RefuseDeclaredLargeBodies, max_bytes=body_limit, message=too_large)
    app.add_middleware(RefuseWhenFull, admission=admission, paths=INFERENCE_PATHS, error=_error_with_headers)
    app.add_middleware(ApiKeyMiddleware, checker=KeyChecker(api_keys or []), error=_auth_error)
    app.add_middleware(RequestLogMiddleware)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413 and exc.detail == BODY_TOO_LARGE:
            return too_large_response(too_large, request.url.path)
        if is_openai_path(request.url.path):
            param, code = (exc.param, exc.code) if isinstance(exc, OpenAIError) else (None, None)
            return error_response(request.url.path, exc.status_code, str(exc.detail), code, param, exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = validation_message(exc)
        if is_openai_path(request.url.path):  # OpenAI answers a bad parameter with 400
            loc = next((e.get("loc", ()) for e in exc.errors()), ())
            param = ".".join(str(p) for p in loc if p != "body") or None
            return error_response(request.url.path, 400, message, "invalid_value", param)
        return JSONResponse(
            {
                "detail": message,
                "errors": [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()],
            },
            422,
        )

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "default_model": catalog.default_id(),
            "loaded_models": engine.loaded(),
            "queue": admission.stats(),
        }

    @app.get("/models")
    def models() -> dict:
        """The runs, each with the backend it is (or would be) served on, and what the aliases point at."""
        described = catalog.describe()
        for model in described["models"]:
            model["backend"] = engine.backend_of(model["path"])
        return described

    @app.post("/transcribe", max_body_size=body_limit)
    def transcribe(
        file: AudioUpload,
        model: ModelField = "",
        language: LanguageField = None,
        format: FormatField = OutputFormat.json,
        num_beams: Annotated[int, Form(ge=1, le=10)] = 1,
    ) -> Response:
        name = display_name(file.filename)
        model_id, path = _resolve(catalog, model, name)
        lang = language.value if language else None
        with admission.ticket(name) as ticket:  # a place in the queue first, then decode while waiting
            audio = decode_upload(file, name, max_seconds)
            result = ticket.run(lambda: _run(name, lambda: engine.transcribe(path, audio, lang, num_beams)))
        return _respond(result, model_id, path, name, format)

    @app.post("/align", max_body_size=body_limit)
    def align(
        file: AudioUpload,
        text: Annotated[str, Form(description="The words spoken (lyrics, a script)")],
        model: ModelField = "",
        language: LanguageField = None,
        format: FormatField = OutputFormat.json,
    ) -> Response:
        name = display_name(file.filename)
        model_id, path = _resolve(catalog, model, name)
        lang = language.value if language else None
        with admission.ticket(name) as ticket:
            audio = decode_upload(file, name, max_seconds)
            result = ticket.run(lambda: _run(name, lambda: engine.align(path, audio, text, lang)))
        return _respond(result, model_id, path, name, format)

    app.include_router(
        create_router(
            catalog,
            engine,
            admission,
            lambda upload, name: decode_upload(upload, name, max_seconds),
            _run,
            display_name,
            body_limit,
        )
    )

    from whisper_pipeline.serving.files import files_router  # imported here: it uses this module's helpers

    app.include_router(files_router(catalog, engine, catalog.ws, max_upload_mb, max_audio_minutes, max_store_gb))
    if api_keys:
        declare_bearer_keys(app)
    return app


def declare_bearer_keys(app: FastAPI) -> None:
    """Say in the OpenAPI description that every route takes ``Authorization: Bearer <key>``, so the
    ``/docs`` page has an Authorize button and its "Try it out" calls send the key (checked by
    ``ApiKeyMiddleware``, not here)."""
    plain = app.openapi

    def openapi() -> dict:
        schema = plain()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["apiKey"] = {"type": "http", "scheme": "bearer", "description": "a key of WHISPER_PIPELINE_API_KEYS"}
        schema["security"] = [{"apiKey": []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# routes that run the model: refused before their body is read while the queue is full
INFERENCE_PATHS = ("/transcribe", "/align", "/v1/audio/", "/process/")


def _error_with_headers(path: str, status: int, message: str, headers: dict[str, str]) -> Response:
    return error_response(path, status, message, headers=headers)


def _auth_error(path: str, status: int, message: str, code: str) -> Response:
    return error_response(path, status, message, code)


class RefuseDeclaredLargeBodies:
    """413 for a request whose ``Content-Length`` is over the limit, before the app runs and before a
    byte of the body is read (a client waiting on ``Expect: 100-continue`` never sends it). FastAPI's
    ``max_body_size`` refuses such a request too, but only when the endpoint starts reading, and with
    a plain-text answer; bodies without a length are left to it, counted as they stream."""

    def __init__(self, app: ASGIApp, max_bytes: int, message: str) -> None:
        self.app, self.max_bytes, self.message = app, max_bytes, message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                await too_large_response(self.message, scope["path"])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def too_large_response(message: str, path: str = "") -> JSONResponse:
    """413 with ``Connection: close``, so the server stops receiving a body it will never read."""
    return error_response(path, 413, message, headers={"Connection": "close"})


def display_name(filename: str | None) -> str:
    """The client's file name, fit for a message, a JSON field or a header: its last path component
    without control or format characters (NUL, newlines, bidi overrides), at most 100 characters;
    ``upload`` when nothing is left (no name, ``.``, ``..``)."""
    base = re.split(r"[/\\]", filename or "")[-1]
    base = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in base)
    base = " ".join(base.split())[:100]
    return base if base.strip(". ") else "upload"


def validation_message(exc: RequestValidationError) -> str:
    """One line that names the upload (if there was one) and each field that was wrong; FastAPI's
    default is a list of dicts a person has to decode."""
    upload = exc.body.get("file") if isinstance(exc.body, FormData) else None
    name = getattr(upload, "filename", None)
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        if field == "file" and error.get("type") == "missing":
            parts.append("no file: send the audio as the multipart form field 'file'")
        else:
            parts.append(f"{field}: {error.get('msg', 'invalid')}")
    message = "; ".join(parts)
    return f"{display_name(name)}: {message}" if name is not None else message


def _run(name: str, call: Callable[[], dict]) -> dict:
    """Input problems (empty text, nothing alignable) → 422; a model that fails → 500 that says why."""
    try:
        return call()
    except ValueError as exc:
        raise HTTPException(422, f"{name}: {exc}") from exc
    except Exception as exc:
        log.exception("inference failed on %s", name)
        raise HTTPException(500, f"{name}: the model failed ({type(exc).__name__}: {exc})"[:500]) from exc


def _resolve(catalog: ModelCatalog, model: str, name: str) -> tuple[str, str]:
    """(model id, path); an unknown model → 404 that names the upload and lists the models."""
    request_log.note(model=model.strip() or catalog.default_id())
    try:
        return catalog.resolve(model.strip() or None)
    except UnknownModel as exc:
        raise HTTPException(404, f"{name}: {exc}") from exc


def decode_upload(upload: UploadFile, name: str, max_seconds: float) -> np.ndarray:
    """The upload as 16 kHz mono: a lossless file (WAV, FLAC…) is decoded in process straight from the
    received body; anything else is copied to a private temp dir under a fixed name (only a plain
    extension of the client's name is kept, as a hint for ffmpeg) and decoded by ffmpeg; the dir is
    gone when this returns."""
    upload.file.seek(0, 2)
    if upload.file.tell() == 0:
        raise HTTPException(400, f"{name}: empty upload (0 bytes)")
    upload.file.seek(0)
    audio = decode_lossless(upload.file, max_seconds + 1)
    if audio is not None:
        return checked_audio(audio, name, max_seconds)
    suffix = Path(name).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
    with tempfile.TemporaryDirectory(prefix="whisper-serve-") as tmp:
        target = Path(tmp) / f"upload{suffix}"
        with open(target, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                out.write(chunk)
        return decode_capped(target, name, max_seconds)


def decode_capped(path: Path, name: str, max_seconds: float) -> np.ndarray:
    """Decode at most ``max_seconds`` + 1 s: a few MB of low-bitrate audio can hold hours, and decoding
    all of it to float32 before refusing it would fill memory. Lossless files are decoded in process,
    the rest by ffmpeg. Errors name the upload, not the temp file."""
    if path.stat().st_size == 0:
        raise HTTPException(400, f"{name}: empty upload (0 bytes)")
    audio = decode_lossless(path, max_seconds + 1)
    if audio is None:
        audio, _ = ffmpeg_samples(path, name, max_seconds + 1)
    return checked_audio(audio, name, max_seconds)


def audio_seconds(path: Path, name: str, max_seconds: float) -> float:
    """How long the audio in ``path`` is, checked as ``decode_capped`` checks it (the same 400/413), with
    no more than a chunk of it in memory at once: what an upload to the file store needs."""
    if path.stat().st_size == 0:
        raise HTTPException(400, f"{name}: empty upload (0 bytes)")
    seconds = lossless_duration(path)
    samples = (
        round(seconds * SAMPLE_RATE)
        if seconds is not None
        else ffmpeg_samples(path, name, max_seconds + 1, keep=False)[1]
    )
    check_length(samples, name, max_seconds)
    return samples / SAMPLE_RATE


def ffmpeg_samples(path: Path, name: str, seconds: float, keep: bool = True) -> tuple[np.ndarray, int]:
    """16 kHz mono float32 of the first ``seconds`` of ``path`` by ffmpeg, and how many samples that is
    (``keep=False``: only counted, as it streams). ffmpeg's errors become a 400 naming the upload."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-t", f"{seconds:.3f}"]
    command += ["-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
    kept, size = bytearray(), 0
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: a flood of decoder errors cannot block it
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr) as proc:
            while chunk := proc.stdout.read(CHUNK):
                size += len(chunk)
                if keep:
                    kept += chunk
        stderr.seek(0)
        errors = stderr.read().decode("utf-8", "replace").replace(str(path), name).strip()
    if proc.returncode != 0 and size == 0:
        if "does not contain any stream" in errors or "matches no streams" in errors:
            raise HTTPException(400, f"{name}: no audio stream (a video without sound?)")
        last = errors.splitlines()[-1] if errors else f"ffmpeg exit {proc.returncode}"
        raise HTTPException(400, f"{name}: undecodable ({last.removeprefix(name + ': ')})")
    return np.frombuffer(kept, dtype=np.float32, count=len(kept) // 4), size // 4


def checked_audio(audio: np.ndarray, name: str, max_seconds: float) -> np.ndarray:
    """``audio``, once it is known to hold samples and to be within the length limit (else 400/413)."""
    check_length(audio.size, name, max_seconds)
    request_log.note(audio_seconds=round(audio.size / SAMPLE_RATE, 3))
    return audio


def check_length(samples: int, name: str, max_seconds: float) -> None:
    """400 for no samples at all, 413 past the length limit."""
    if samples == 0:
        raise HTTPException(400, f"{name}: no audio samples")
    if samples > max_seconds * SAMPLE_RATE:
        raise HTTPException(
            413,
            f"{name}: longer than the {max_seconds / 60:g} min limit (--max-audio-minutes); split it",
        )


def _respond(result: dict, model_id: str, path: str, name: str, fmt: OutputFormat) -> Response:
    result = {"model": model_id, "model_path": path, "file": name, **result}
    if fmt is OutputFormat.json:
        return JSONResponse(result)
    segments = result["segments"]
    stem = Path(name).stem
    renderers: dict[str, Callable[[], str]] = {
        "txt": lambda: result["text"] + "\n",
        "srt": lambda: to_srt(segments),
        "vtt": lambda: to_vtt(segments),
        "lrc": lambda: to_lrc(segments, title=stem, language=result["language"]),
    }
    headers = {"Content-Disposition": content_disposition(f"{stem}.{fmt.value}")}
    return PlainTextResponse(renderers[fmt.value](), media_type=MEDIA_TYPES[fmt.value], headers=headers)


def content_disposition(filename: str) -> str:
    """``inline`` with the file name a download should get (``curl -OJ``): an ASCII fallback with
    anything that could end the quoted string or the header replaced, and the exact name in RFC 5987
    ``filename*`` form (percent-encoded, so nothing in it is a separator)."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9._ ()-]", "_", folded)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
