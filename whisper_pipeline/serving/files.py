"""The original plan's file endpoints, and the karaoke page that uses them.

``POST /files`` stores an upload once per content (``file_id`` = its SHA-256) after checking it decodes as
audio; ``GET /files`` lists them; ``GET /files/<id>`` and ``/files/<id>/audio`` (with HTTP ranges, so a
player can seek) give one back. ``POST /process/whisper/<id>`` transcribes a stored file and
``POST /process/align/<id>`` places a given text (lyrics) in it; both answer what ``/transcribe`` and
``/align`` answer and write it to ``outputs/<id>/`` with ``karaoke.lrc`` (``GET /files/<id>/lrc``).
``GET /karaoke`` is a self-contained page over these.

A ``file_id`` is looked up in the store's index after matching the hash form; a model name is resolved by
the catalog and reaches a file name only mapped to a safe label.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from importlib.resources import files as package_files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse

from whisper_pipeline.alignment.formats import to_lrc
from whisper_pipeline.io import write_json, write_text
from whisper_pipeline.serving.app import (
    Language,
    LanguageField,
    _resolve,
    _run,
    audio_seconds,
    content_disposition,
    decode_capped,
    display_name,
)
from whisper_pipeline.serving.catalog import ModelCatalog
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.serving.file_store import FILE_ID, AudioInfo, FileStore, StoredFile, StoreError, StoreFull
from whisper_pipeline.workspace import Workspace

CHUNK = 1 << 20
# ffprobe format names → what a browser's <audio> is told; anything else is served as bytes
MEDIA_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "matroska,webm": "audio/webm",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
    "aac": "audio/aac",
}
KARAOKE_PAGE = "static/karaoke.html"
LanguageQuery = Annotated[Language | None, Query(description="Empty: identified among bs, hr, sr")]
ModelQuery = Annotated[str, Query(description="Run name, production, latest or base; empty = the default")]


def files_router(
    catalog: ModelCatalog,
    engine: TranscriptionEngine,
    workspace: Workspace,
    max_upload_mb: float = 200.0,
    max_audio_minutes: float = 60.0,
    max_store_gb: float = 20.0,
) -> APIRouter:
    """The routes above, on the service's catalog, engine and workspace, with its upload and audio limits
    (app.py's ``create_app`` includes it; imported there when the app is built, as this module uses app's helpers);
    ``max_store_gb``: the stored uploads together (0: no limit)."""
    router = APIRouter()
    store = FileStore(workspace, int(max_store_gb * 1e9) if max_store_gb > 0 else None)
    body_limit = int(max_upload_mb * CHUNK)
    max_seconds = max_audio_minutes * 60

    def inspect(name: str) -> Callable[[Path], AudioInfo]:
        def check(path: Path) -> AudioInfo:
            # 400/413 naming the upload when it is not usable; counted as it decodes, never held whole
            seconds = audio_seconds(path, name, max_seconds)
            fmt = probe_format(path)
            return AudioInfo(seconds, fmt, MEDIA_TYPES.get(fmt, "application/octet-stream"))

        return check

    def stored(file_id: str) -> StoredFile:
        """The stored file, or 404; the id is only ever compared with the index, never made a path."""
        try:
            found = store.get(file_id)
        except StoreError as exc:
            raise HTTPException(500, str(exc)) from exc
        if found is None:
            shown = display_name(file_id)[:80]
            form = "" if FILE_ID.fullmatch(file_id) else " (a file_id is the 64 hex digits POST /files answered)"
            raise HTTPException(404, f"no stored file {shown!r}{form}")
        return found

    @router.post("/files", max_body_size=body_limit, status_code=201)
    def upload_file(file: Annotated[UploadFile, File(description="Audio in any format ffmpeg reads")]) -> JSONResponse:
        name = display_name(file.filename)
        try:
            record, new = store.put(iter(lambda: file.file.read(CHUNK), b""), name, inspect(name), plain_suffix(name))
        except StoreFull as exc:
            raise HTTPException(507, str(exc)) from exc
        except StoreError as exc:
            raise HTTPException(500, str(exc)) from exc
        return JSONResponse(record.as_dict(), 201 if new else 200)

    @router.delete("/files/{file_id}")
    def delete_file(file_id: str) -> dict:
        """The stored upload and everything the service wrote for it (transcriptions, alignments, LRC)."""
        found = stored(file_id)
        try:
            store.delete(found.file_id)
        except StoreError as exc:
            raise HTTPException(500, str(exc)) from exc
        shutil.rmtree(workspace.alignment_outputs(found.file_id), ignore_errors=True)
        return {"file_id": found.file_id, "filename": found.filename, "deleted": True}

    @router.get("/files")
    def list_files() -> dict:
        try:
            return {"files": [f.as_dict() for f in store.list()]}
        except StoreError as exc:
            raise HTTPException(500, str(exc)) from exc

    @router.get("/files/{file_id}")
    def file_info(file_id: str) -> dict:
        found = stored(file_id)
        return {**found.as_dict(), "karaoke": workspace.file_karaoke(found.file_id).is_file()}

    @router.get("/files/{file_id}/audio")
    def file_audio(file_id: str) -> FileResponse:
        found = stored(file_id)
        return FileResponse(
            store.audio_path(found),
            media_type=found.media_type,
            filename=found.filename,
            content_disposition_type="inline",
        )

    @router.get("/files/{file_id}/lrc")
    def file_lrc(file_id: str) -> PlainTextResponse:
        """The enhanced LRC of the file's latest transcription or alignment."""
        found = stored(file_id)
        lrc = workspace.file_karaoke(found.file_id)
        if not lrc.is_file():
            raise HTTPException(404, f"{found.filename}: not transcribed or aligned yet (POST /process/…)")
        headers = {"Content-Disposition": content_disposition(f"{Path(found.filename).stem}.lrc")}
        return PlainTextResponse(lrc.read_text(encoding="utf-8"), headers=headers)

    @router.post("/process/whisper/{file_id}")
    def process_whisper(
        request: Request,
        file_id: str,
        model: ModelQuery = "",
        language: LanguageQuery = None,
        num_beams: Annotated[int, Query(ge=1, le=10)] = 1,
    ) -> dict:
        lang = language.value if language else None
        return process(
            request,
            file_id,
            model,
            lambda path, audio: engine.transcribe(path, audio, lang, num_beams),
            workspace.file_transcription,
        )

    @router.post("/process/align/{file_id}", max_body_size=body_limit)
    def process_align(
        request: Request,
        file_id: str,
        text: Annotated[str, Form(description="The words spoken or sung (lyrics, a script)")],
        model: Annotated[str, Form()] = "",
        language: LanguageField = None,
    ) -> dict:
        lang = language.value if language else None
        return process(
            request, file_id, model, lambda path, audio: engine.align(path, audio, text, lang), workspace.file_alignment
        )

    def process(request: Request, file_id: str, model: str, call, target) -> dict:
        """Run ``call(model_path, audio)`` on a stored file through the admission queue and save the answer
        at ``target(file_id, label)``."""
        found = stored(file_id)
        model_id, path = _resolve(catalog, model, found.filename)
        with request.app.state.admission.ticket(found.filename) as ticket:  # a place in the queue first (503 if full)
            try:
                audio = decode_capped(store.audio_path(found), found.filename, max_seconds)
            except FileNotFoundError as exc:  # deleted while this request waited
                raise HTTPException(404, f"{found.filename}: deleted (DELETE /files/{found.file_id})") from exc
            result = ticket.run(lambda: _run(found.filename, lambda: call(path, audio)))
        label = output_label(model_id, path)
        return save(found, model_id, path, label, result, target(found.file_id, label))

    def save(found: StoredFile, model_id: str, path: str, label: str, result: dict, target: Path) -> dict:
        """The answer, as ``/transcribe`` gives it plus the ``file_id`` and where it was written."""
        lrc = workspace.file_karaoke(found.file_id)
        doc = {"model": model_id, "model_path": path, "file": found.filename, "file_id": found.file_id, **result}
        doc["outputs"] = {"json": rel(target, workspace), "lrc": rel(lrc, workspace), "model_label": label}
        write_json(target, doc)
        write_text(lrc, to_lrc(doc["segments"], title=Path(found.filename).stem, language=doc["language"]))
        return doc

    @router.get("/karaoke", response_class=HTMLResponse)
    def karaoke() -> HTMLResponse:
        return HTMLResponse(karaoke_page())

    return router


def karaoke_page() -> str:
    """The page (inline JS and CSS: it runs where there is no internet), read from the package."""
    return (package_files("whisper_pipeline.serving") / KARAOKE_PAGE).read_text(encoding="utf-8")


def output_label(model_id: str, path: str) -> str:
    """The model as part of an output file name: ``base``, else the run's directory name; a name with
    anything but letters, digits, ``.``, ``_``, ``-`` is replaced by a safe one with a hash, so two
    models never share a label and nothing a client typed becomes a path component."""
    name = "base" if model_id == "base" else Path(path).name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:64]
    if safe != name or not safe:
        safe = f"{safe or 'model'}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
    return safe


def plain_suffix(name: str) -> str:
    """A plain extension of the client's name (a hint for ffmpeg), else none."""
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def probe_format(path: Path) -> str:
    """ffprobe's container name for ``path`` (``wav``, ``mp3``, ``ogg``…); empty when it cannot tell."""
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=format_name", "-of", "default=nw=1:nk=1", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def rel(path: Path, ws: Workspace) -> str:
    return str(path.relative_to(ws.root))
