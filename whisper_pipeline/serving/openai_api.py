"""The OpenAI-compatible API, so existing tools (the ``openai`` client, anything that speaks
``/v1/audio/transcriptions``) work unchanged with ``base_url`` pointed here.

- ``POST /v1/audio/transcriptions``: multipart ``file``, ``model``, ``language``, ``prompt``,
  ``response_format`` (json, text, srt, vtt, verbose_json, and our ``lrc``), ``temperature``,
  ``timestamp_granularities[]`` (word, segment). Answers in the shapes of ``openai.types.audio``
  (``Transcription``, ``TranscriptionVerbose``). Words are always snapped to speech (our alignment).
- ``GET /v1/models`` and ``GET /v1/models/{id}``: ``openai.types.Model`` objects.
- Errors: ``{"error": {"message", "type", "param", "code"}}`` with the status OpenAI uses, so the
  client raises ``NotFoundError`` (unknown model), ``AuthenticationError`` (401), ``BadRequestError``.

Models: every id of ``GET /models`` (run names, ``production``, ``latest``, ``base``) and ``whisper-1``,
an alias of the default model (production → latest → base) for tools that hard-code it.
Languages: ``bs``, ``hr``, ``sr`` only (ISO 639-1, as OpenAI takes them; the English names are
accepted too); any other → 400. ``verbose_json`` reports ``language`` as OpenAI does, by name
(``croatian``).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from whisper_pipeline.alignment.formats import to_lrc, to_srt, to_vtt
from whisper_pipeline.serving import request_log
from whisper_pipeline.serving.admission import Admission
from whisper_pipeline.serving.catalog import ModelCatalog, UnknownModel
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.workspace import LANGUAGES

PREFIX = "/v1"
DEFAULT_ALIAS = "whisper-1"
LANGUAGE_NAMES = {"bs": "bosnian", "hr": "croatian", "sr": "serbian"}
FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "lrc")
MEDIA_TYPES = {"text": "text/plain", "srt": "text/plain", "vtt": "text/plain", "lrc": "text/plain"}
ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", "invalid_value"),
    503: ("server_error", "service_unavailable"),
}


def is_openai_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_response(
    path: str,
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error answer for ``path``: OpenAI's shape under ``/v1``, ``{"detail": message}`` elsewhere
    (the shape the service's own routes always had)."""
    if not is_openai_path(path):
        return JSONResponse({"detail": message}, status, headers=headers)
    kind, default_code = ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    body = {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}}
    return JSONResponse(body, status, headers=headers)


class OpenAIError(HTTPException):
    """An HTTP error that carries OpenAI's ``param`` and ``code`` (see ``error_response``)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(status, message)
        self.param, self.code = param, code


def parse_language(value: str | None) -> str | None:
    """``bs``/``hr``/``sr`` (or their English names, any case); empty → None (identified)."""
    value = (value or "").strip().lower()
    if not value:
        return None
    by_name = {name: code for code, name in LANGUAGE_NAMES.items()}
    code = value if value in LANGUAGES else by_name.get(value)
    if code is None:
        raise OpenAIError(
            400,
            f"language {value[:20]!r} is not supported: this service transcribes Bosnian (bs), Croatian (hr) "
            "and Serbian (sr)",
            param="language",
            code="unsupported_language",
        )
    return code


def resolve_model(catalog: ModelCatalog, model: str) -> tuple[str, str]:
    """(model id, path); ``whisper-1`` (or empty) is the default model; unknown → 404 ``model_not_found``."""
    model = model.strip()
    try:
        if model in ("", DEFAULT_ALIAS):
            return model or DEFAULT_ALIAS, catalog.resolve(None)[1]
        return catalog.resolve(model)
    except UnknownModel as exc:
        raise OpenAIError(404, f"The model {model[:100]!r} does not exist: {exc}", "model", "model_not_found") from exc


def _unix(iso: str) -> int:
    try:
        return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return 0


def list_models(catalog: ModelCatalog) -> list[dict]:
    """``openai.types.Model`` dicts: ``whisper-1``, the aliases that point somewhere, every run."""
    runs = catalog.runs()
    created = {m.id: _unix(m.created) for m in runs}
    aliases = catalog.describe()["aliases"]
    default = catalog.default_id()

    def model(id_: str, target: str | None, owner: str = "whisper-pipeline") -> dict:
        return {"id": id_, "object": "model", "created": created.get(target or "", 0), "owned_by": owner}

    out = [model(DEFAULT_ALIAS, aliases.get(default) if default != "base" else None)]
    out += [
        model(alias, target, "openai" if alias == "base" else "whisper-pipeline")
        for alias, target in aliases.items()
        if target
    ]
    return out + [model(m.id, m.id) for m in runs]


def verbose(result: dict, granularities: set[str], temperature: float) -> dict:
    """``TranscriptionVerbose``: segments unless only words were asked for (OpenAI's default is
    segments), words when asked. Segment statistics the backend did not report are null."""
    doc: dict = {
        "task": "transcribe",
        "language": LANGUAGE_NAMES.get(result["language"], result["language"]),
        "duration": result["duration"],
        "text": result["text"],
    }
    if "word" in granularities:
        doc["words"] = [
            {"word": w["word"].strip(), "start": w["start"], "end": w["end"]}
            for s in result["segments"]
            for w in s.get("words", [])
            if w["word"].strip()
        ]
    if "segment" in granularities or not granularities:
        doc["segments"] = [
            {
                "id": i,
                "seek": s.get("seek", int(s["start"] * 100)),
                "start": s["start"],
                "end": s["end"],
                "text": s["text"],
                "tokens": s.get("tokens") or [],
                "temperature": s.get("temperature", temperature),
                "avg_logprob": s.get("avg_logprob"),
                "compression_ratio": s.get("compression_ratio"),
                "no_speech_prob": s.get("no_speech_prob"),
            }
            for i, s in enumerate(result["segments"])
        ]
    doc["usage"] = {"type": "duration", "seconds": result["duration"]}
    return doc


def render(result: dict, fmt: str, granularities: set[str], temperature: float, title: str) -> Response:
    if fmt == "json":
        return JSONResponse({"text": result["text"], "usage": {"type": "duration", "seconds": result["duration"]}})
    if fmt == "verbose_json":
        return JSONResponse(verbose(result, granularities, temperature))
    segments = result["segments"]
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: result["text"] + "\n",
        "srt": lambda: to_srt(segments),
        "vtt": lambda: to_vtt(segments),
        "lrc": lambda: to_lrc(segments, title=title, language=result["language"]),
    }
    return PlainTextResponse(renderers[fmt](), media_type=MEDIA_TYPES[fmt])


def create_router(
    catalog: ModelCatalog,
    engine: TranscriptionEngine,
    admission: Admission,
    decode: Callable[[UploadFile, str], np.ndarray],
    run_engine: Callable[[str, Callable[[], dict]], dict],
    display_name: Callable[[str | None], str],
    body_limit: int,
) -> APIRouter:
    """The ``/v1`` routes. ``decode`` turns the upload into 16 kHz audio (HTTP errors that name it),
    ``run_engine`` maps engine failures to HTTP errors; both are the service's own."""
    router = APIRouter(prefix=PREFIX, tags=["OpenAI-compatible"])

    @router.get("/models")
    def models() -> dict:
        return {"object": "list", "data": list_models(catalog)}

    @router.get("/models/{model_id}")
    def model(model_id: str) -> dict:
        for m in list_models(catalog):
            if m["id"] == model_id:
                return m
        raise OpenAIError(404, f"The model {model_id[:100]!r} does not exist", "model", "model_not_found")

    @router.post("/audio/transcriptions", max_body_size=body_limit)
    def transcriptions(
        file: Annotated[UploadFile, File(description="Audio in any format ffmpeg reads")],
        model: Annotated[str, Form(description="whisper-1 (the default model), a run name, production, …")] = "",
        language: Annotated[str, Form(description="bs, hr or sr; empty: identified among them")] = "",
        prompt: Annotated[str, Form(description="Text that guides the style or continues a previous part")] = "",
        response_format: Annotated[str, Form(description=" | ".join(FORMATS))] = "json",
        temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
        granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
        granularities_plain: Annotated[list[str] | None, Form(alias="timestamp_granularities")] = None,
    ) -> Response:
        name = display_name(file.filename)
        if response_format not in FORMATS:
            raise OpenAIError(
                400,
                f"{name}: response_format {response_format[:20]!r} is not one of {', '.join(FORMATS)}",
                "response_format",
            )
        wanted = set(granularities or []) | set(granularities_plain or [])
        if wanted - {"word", "segment"}:
            raise OpenAIError(
                400, f"{name}: timestamp_granularities must be word and/or segment", "timestamp_granularities"
            )
        lang = parse_language(language)
        model_id, path = resolve_model(catalog, model)
        request_log.note(model=model_id)
        options: dict = {}
        if prompt.strip():
            options["prompt"] = prompt
        if temperature:
            options["temperature"] = temperature
        with admission.ticket(name) as ticket:
            audio = decode(file, name)
            result = ticket.run(lambda: run_engine(name, lambda: engine.transcribe(path, audio, lang, 1, **options)))
        title = name.rsplit(".", 1)[0] if "." in name else name
        return render(result, response_format, wanted, temperature, title)

    return router
