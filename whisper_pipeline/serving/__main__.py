"""Start the transcription service.

    python -m whisper_pipeline.serving [--host 127.0.0.1] [--port 8000] [--workspace DIR] [--preload production]
        [--max-upload-mb 200] [--max-audio-minutes 60] [--max-loaded 2] [--backend auto|ct2|transformers]
        [--compute-type auto] [--cpu-threads N]
        [--max-queue 4] [--queue-timeout 120] [--max-store-gb 20] [--log-format text|json]

Environment: ``WHISPER_PIPELINE_HOME`` (workspace), ``WHISPER_PIPELINE_BASE_MODEL`` (what ``base`` means),
``WHISPER_PIPELINE_DEVICE`` (auto / cuda / cpu; auto: cuda when there is one), as for the pipeline;
``WHISPER_PIPELINE_API_KEYS`` (comma-separated keys or a file of them, one a line): every endpoint but
``/health`` then needs ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from whisper_pipeline.device import configured_device
from whisper_pipeline.models.source import configured_base_model
from whisper_pipeline.serving.admission import Admission
from whisper_pipeline.serving.app import create_app
from whisper_pipeline.serving.auth import ENV as KEYS_ENV
from whisper_pipeline.serving.auth import KeyConfigError, keys_from_env
from whisper_pipeline.serving.catalog import ModelCatalog
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.serving.request_log import configure_logging
from whisper_pipeline.workspace import Workspace


def build_parser() -> argparse.ArgumentParser:
    """The command line (also what the container's command is checked against)."""
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
        "--backend",
        choices=("auto", "ct2", "transformers"),
        default="auto",
        help="auto: faster-whisper where a model has a CTranslate2 export (production and base do), else transformers",
    )
    parser.add_argument(
        "--compute-type", default="auto", help="CTranslate2 compute type; auto: int8 on CPU, float16 on GPU"
    )
    parser.add_argument("--cpu-threads", type=int, default=None, help="inference threads on CPU (default: every core)")
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
    parser.add_argument(
        "--max-queue",
        type=int,
        default=4,
        help="requests waiting for the model at most; one more → 503 with Retry-After",
    )
    parser.add_argument(
        "--queue-timeout",
        type=float,
        default=120.0,
        help="seconds a request may wait for the model; longer → 503",
    )
    parser.add_argument(
        "--max-store-gb",
        type=float,
        default=20.0,
        help="uploads kept by POST /files together; more → 507 (DELETE /files/<id> frees room); 0: no limit",
    )
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one object a line")
    return parser


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_queue < 0 or args.queue_timeout <= 0:
        parser.error("--max-queue must be ≥ 0 and --queue-timeout > 0")
    configure_logging(args.log_format)
    log = logging.getLogger("whisper_pipeline.serving")
    try:
        keys = keys_from_env()
    except KeyConfigError as exc:
        sys.exit(str(exc))
    if keys:
        log.info("API keys required (%d configured in %s)", len(keys), KEYS_ENV)
    elif not is_loopback(args.host):
        log.warning("no API keys (%s): anyone who can reach %s:%s can use the service", KEYS_ENV, args.host, args.port)

    catalog = ModelCatalog(Workspace.at(args.workspace).ensure(), args.base_model)
    engine = TranscriptionEngine(
        None if args.device == "auto" else args.device,
        args.max_loaded,
        backend=args.backend,
        compute_type=args.compute_type,
        cpu_threads=args.cpu_threads,
    )
    if args.preload:
        engine.model(catalog.resolve(args.preload)[1])
    admission = Admission(args.max_queue, args.queue_timeout)
    uvicorn.run(
        create_app(catalog, engine, args.max_upload_mb, args.max_audio_minutes, admission, keys, args.max_store_gb),
        host=args.host,
        port=args.port,
        log_config=None,  # ours (configure_logging): JSON or text, with request ids
        access_log=False,  # replaced by the service's access log (request id, model, timings)
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    main()
