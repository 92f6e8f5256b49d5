"""API keys: ``WHISPER_PIPELINE_API_KEYS`` (comma-separated keys, or the path of a file with one key a
line) turns them on, and then every request needs ``Authorization: Bearer <key>`` (what the OpenAI
client sends) except ``/health`` and the pages that hold no data (``/docs``, ``/redoc``, the OpenAPI
description, the karaoke page's HTML: its script asks for the key and sends it as a header).

ASGI middleware, so routes added anywhere are covered without opting in. Keys are compared as SHA-256
digests with ``hmac.compare_digest`` against every configured key (no early exit), and are never
written to a log or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

ENV = "WHISPER_PIPELINE_API_KEYS"
# open without a key: the liveness probe and pages that carry no data (their scripts send the key)
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/karaoke"})
OPEN_PREFIXES = ("/static-offline-docs/",)


class KeyConfigError(ValueError):
    """The keys setting is unusable (a named file is missing, or it holds no key)."""


def load_keys(value: str | None) -> list[str]:
    """The keys in ``value``: a path to a file (one key a line; blank lines and ``#`` comments skipped)
    when it names one, else comma-separated keys. A value that looks like a path but names no file is
    an error, so a typo cannot become a key. Empty or unset: no keys (the service is open)."""
    value = (value or "").strip()
    if not value:
        return []
    path = Path(value).expanduser()
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        keys = [k.strip() for k in lines if k.strip() and not k.strip().startswith("#")]
        if not keys:
            raise KeyConfigError(f"{ENV}: {path} holds no key")
        return keys
    if value.startswith(("/", "./", "../", "~")) and "," not in value:
        raise KeyConfigError(f"{ENV}: {value} is not a file (give the keys comma-separated, or a file path)")
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if any(any(c.isspace() for c in k) for k in keys):
        raise KeyConfigError(f"{ENV}: a key holds whitespace")
    return keys


def keys_from_env() -> list[str]:
    return load_keys(os.environ.get(ENV))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class KeyChecker:
    """Holds the keys' digests only; ``valid`` compares against all of them in constant time."""

    def __init__(self, keys: list[str]) -> None:
        self._digests = [_digest(k) for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def valid(self, presented: str) -> bool:
        given = _digest(presented)
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(digest, given)
        return found


def bearer(headers: Headers) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive), else None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class ApiKeyMiddleware:
    """401 for a request without a valid key, before the app runs and before its body is read.
    ``error`` builds the answer for a path (the OpenAI error shape on ``/v1``)."""

    def __init__(self, app: ASGIApp, checker: KeyChecker, error: Callable[[str, int, str, str], Response]) -> None:
        self.app, self.checker, self.error = app, checker, error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.checker or is_open(scope["path"]) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        token = bearer(Headers(scope=scope))
        if token is not None and self.checker.valid(token):
            await self.app(scope, receive, send)
            return
        if token is None:
            message = "no API key: send it as the header 'Authorization: Bearer <key>'"
            code = "missing_api_key"
        else:
            message = "invalid API key (the key sent is not one of WHISPER_PIPELINE_API_KEYS)"
            code = "invalid_api_key"
        response = self.error(scope["path"], 401, message, code)
        response.headers["WWW-Authenticate"] = "Bearer"
        response.headers["Connection"] = "close"  # the body (an upload) is never read
        await response(scope, receive, send)
