"""Start the transcription service.

    python -m whisper_pipeline.serving [--host 127.0.0.1] [--port 8000] [--workspace DIR] [--preload production]
        [--max-upload-mb 200] [--max-audio-minutes 60] [--max-loaded 2]

Environment: ``WHISPER_PIPELINE_HOME`` (workspace), ``WHISPER_PIPELINE_BASE_MODEL`` (what ``base`` means),
``WHISPER_PIPELINE_DEVICE`` (auto / cuda / cpu; auto: cuda when there is one), as for the pipeline.
"""

from __future__ import annotations

import argparse

from whisper_pipeline.device import configured_device
from whisper_pipeline.models.source import configured_base_model
from whisper_pipeline.serving.app import create_app
from whisper_pipeline.serving.catalog import ModelCatalog
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.workspace import Workspace


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Transcription service (OpenAPI page at /docs)")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on every interface")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workspace",
        default=None,
        help="workspace root (default: WHISPER_PIPELINE_HOME or data/workspace)",
    )
    parser.add_argument(
        "--base-model",
        default=configured_base_model(),
    )
    parser.add_argument(
        "--device",
        default=configured_device(),
        help="auto | cuda | cpu",
    )
    parser.add_argument("--max-loaded", type=int, default=2, help="models kept in memory at once")
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=200.0,
        help="largest request body; more → 413",
    )
    parser.add_argument(
        "--max-audio-minutes",
        type=float,
        default=60.0,
        help="longest audio transcribed in one request; more → 413",
    )
    parser.add_argument(
        "--preload",
        default="",
        help="load this model (e.g. production) before taking requests",
    )
    args = parser.parse_args(argv)

    catalog = ModelCatalog(Workspace.at(args.workspace).ensure(), args.base_model)
    engine = TranscriptionEngine(None if args.device == "auto" else args.device, args.max_loaded)
    if args.preload:
        engine.model(catalog.resolve(args.preload)[1])
    uvicorn.run(
        create_app(catalog, engine, args.max_upload_mb, args.max_audio_minutes),
        host=args.host,
        port=args.port,
    )


if __name__ == "__main__":
    main()
