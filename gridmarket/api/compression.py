"""gzip for clients that accept it: Starlette's GZipMiddleware, plus weak ETags on what it encodes.

A strong ETag names one exact byte sequence, so the gzip-encoded answer cannot carry the strong
ETag of the plain one (RFC 9110 8.8.1); as nginx does, the encoded answer gets the weak form of
the same tag (``W/"…"``). The routes that answer ``If-None-Match`` compare tags without ``W/``,
so a browser sending the weak tag back still gets its 304.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["GZIP_MINIMUM_SIZE", "add_compression"]

GZIP_MINIMUM_SIZE = 1024
"""Answers shorter than this (bytes) are sent as they are: compressing them saves next to nothing."""


class _WeakEtagWhenEncoded:
    """Pure ASGI: an answer sent with a Content-Encoding gets the weak form of its ETag."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_weak(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if etag and "content-encoding" in headers and not etag.startswith("W/"):
                    headers["etag"] = "W/" + etag
            await send(message)

        await self.app(scope, receive, send_weak)


def add_compression(app: FastAPI, level: int, exclude_content_types: tuple[str, ...] = ()) -> None:
    """gzip (``level`` 1-9) answers of :data:`GZIP_MINIMUM_SIZE` bytes or more to clients that
    accept it, except Starlette's default exclusions (images, zips…) and ``exclude_content_types``."""
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MINIMUM_SIZE,
        compresslevel=level,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *exclude_content_types),
    )
    app.add_middleware(_WeakEtagWhenEncoded)  # added last: outside the gzip, sees its headers
