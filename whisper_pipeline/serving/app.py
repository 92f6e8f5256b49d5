"""The HTTP API. ``POST /transcribe`` and ``POST /align`` take an audio upload (any format ffmpeg
reads) and answer JSON with word timestamps, or plain text, SRT, WebVTT or enhanced (karaoke) LRC.
``GET /models`` lists what can be asked for; ``GET /docs`` is the OpenAPI page (works offline).

Uploads are decoded from a private temporary directory and never kept.
"""

from __future__ import annotations

import logging
import tempfile
from enum import Enum
from pathlib import Path

from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline

from whisper_pipeline.alignment.formats import to_lrc, to_srt, to_vtt
from whisper_pipeline.audio.ffmpeg import AudioError, decode
from whisper_pipeline.serving.catalog import ModelCatalog, UnknownModel
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.workspace import LANGUAGES

Language = Enum("Language", {lang: lang for lang in LANGUAGES}, type=str)


class OutputFormat(str, Enum):
    json = "json"
    txt = "txt"
    srt = "srt"
    vtt = "vtt"
    lrc = "lrc"


log = logging.getLogger("whisper_pipeline.serving")
MEDIA_TYPES = {"txt": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt", "lrc": "text/plain"}
CHUNK = 1 << 20


def create_app(catalog: ModelCatalog, engine: TranscriptionEngine, max_upload_mb: float = 200.0) -> FastAPI:
    # the /docs and /redoc pages with their JS and CSS served from the package, not a CDN (offline machines)
    app = FastAPIOffline(title="whisper-pipeline transcription service",
                  description="Bosnian/Croatian/Serbian speech to text with word timestamps, using any trained model.")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "default_model": catalog.default_id(), "loaded_models": engine.loaded()}

    @app.get("/models")
    def models() -> dict:
        return catalog.describe()

    @app.post("/transcribe")
    def transcribe(file: UploadFile = File(..., description="Audio in any format ffmpeg reads"),
                   model: str = Form("", description="Run name, production, latest or base; empty = the default"),
                   language: Language | None = Form(None, description="Empty: identified among bs, hr, sr"),
                   format: OutputFormat = Form(OutputFormat.json),
                   num_beams: int = Form(1, ge=1, le=10)):
        model_id, path = _resolve(catalog, model)
        audio = _decode_upload(file, max_upload_mb)
        result = _run(file.filename, lambda: engine.transcribe(path, audio, language.value if language else None, num_beams))
        return _respond(result, model_id, path, file.filename, format)

    @app.post("/align")
    def align(file: UploadFile = File(..., description="Audio in any format ffmpeg reads"),
              text: str = Form(..., description="The words spoken (lyrics, a script)"),
              model: str = Form(""), language: Language | None = Form(None),
              format: OutputFormat = Form(OutputFormat.json)):
        model_id, path = _resolve(catalog, model)
        audio = _decode_upload(file, max_upload_mb)
        result = _run(file.filename, lambda: engine.align(path, audio, text, language.value if language else None))
        return _respond(result, model_id, path, file.filename, format)

    return app


def _run(filename: str | None, call):
    """Input problems (empty text, nothing alignable) → 422; a model that fails → 500 that says why."""
    try:
        return call()
    except ValueError as exc:
        raise HTTPException(422, f"{filename}: {exc}") from exc
    except Exception as exc:
        log.exception("inference failed on %s", filename)
        raise HTTPException(500, f"{filename}: the model failed ({type(exc).__name__}: {exc})"[:500]) from exc


def _resolve(catalog: ModelCatalog, model: str) -> tuple[str, str]:
    try:
        return catalog.resolve(model.strip() or None)
    except UnknownModel as exc:
        raise HTTPException(404, str(exc)) from exc


def _decode_upload(upload: UploadFile, max_upload_mb: float):
    """Copy the upload to a private temp file (refusing it past the size limit), decode to 16 kHz mono."""
    name = Path(upload.filename or "upload").name
    limit = int(max_upload_mb * CHUNK)
    with tempfile.TemporaryDirectory(prefix="whisper-serve-") as tmp:
        target = Path(tmp) / (name or "upload")
        size = 0
        with open(target, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"{name}: larger than the {max_upload_mb:g} MB limit")
                out.write(chunk)
        try:
            audio = decode(target)
        except AudioError as exc:
            raise HTTPException(400, f"{name}: {exc.reason}" + (f" ({exc.detail})" if exc.detail else "")) from exc
    if audio.size == 0:
        raise HTTPException(400, f"{name}: no audio samples")
    return audio


def _respond(result: dict, model_id: str, path: str, filename: str | None, fmt: OutputFormat):
    result = {"model": model_id, "model_path": path, "file": filename, **result}
    if fmt is OutputFormat.json:
        return JSONResponse(result)
    segments = result["segments"]
    body = {"txt": lambda: result["text"] + "\n", "srt": lambda: to_srt(segments), "vtt": lambda: to_vtt(segments),
            "lrc": lambda: to_lrc(segments, title=Path(filename or "").stem, language=result["language"])}[fmt.value]()
    return PlainTextResponse(body, media_type=MEDIA_TYPES[fmt.value])
