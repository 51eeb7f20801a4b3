"""gzip for clients that accept it: Starlette's GZipMiddleware, a cache of the large answers it
would compress again and again, and weak ETags on what is sent encoded.

* Answers of :data:`GZIP_MINIMUM_SIZE` bytes or more are compressed (Starlette's middleware).
* Large answers (:data:`CACHE_MINIMUM_SIZE` or more, e.g. a city's 8,000 cells: 3.1 MB of JSON,
  26 ms to compress at level 1) are compressed once per content: :class:`GzipCache` keeps the
  compressed bytes under a hash of the plain ones (BLAKE2b, 3 ms for 3 MB), so every reader of
  the same map gets them without the server compressing it again; a changed answer is other
  bytes, a new entry. At most :data:`CACHE_MAX_BYTES` of compressed bytes, least recently used
  first out.
* A strong ETag names one exact byte sequence, so the gzip-encoded answer cannot carry the strong
  ETag of the plain one (RFC 9110 8.8.1); as nginx does, the encoded answer gets the weak form of
  the same tag (``W/"…"``). The routes that answer ``If-None-Match`` compare tags without ``W/``,
  so a browser sending the weak tag back still gets its 304.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import OrderedDict

from anyio.to_thread import run_sync
from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CACHE_MAX_BYTES", "CACHE_MINIMUM_SIZE", "GZIP_MINIMUM_SIZE", "GzipCache", "add_compression"]

GZIP_MINIMUM_SIZE = 1024
"""Answers shorter than this (bytes) are sent as they are: compressing them saves next to nothing."""
CACHE_MINIMUM_SIZE = 256 * 1024
"""Answers of this many bytes or more are compressed once per content (:class:`GzipCache`)."""
CACHE_MAX_BYTES = 64 * 1024 * 1024
"""The most compressed bytes :class:`GzipCache` keeps."""


def _accepts_gzip(scope: Scope) -> bool:
    return "gzip" in Headers(scope=scope).get("accept-encoding", "")


class GzipCache:
    """Compressed bytes of large answers keyed by a hash of the plain bytes (at most
    :data:`CACHE_MAX_BYTES`, least recently used out first); ``hits`` and ``misses`` count the
    answers served from it and compressed for it."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.entries: OrderedDict[bytes, bytes] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    async def packed(self, plain: bytes) -> bytes:
        """The gzip encoding of ``plain`` (compressed in a worker thread when not cached)."""
        key = hashlib.blake2b(plain, digest_size=16).digest()
        packed = self.entries.get(key)
        if packed is not None:
            self.hits += 1
            self.entries.move_to_end(key)
            return packed
        self.misses += 1
        packed = await run_sync(self._compress, plain)
        if key not in self.entries:  # another reader may have compressed it meanwhile
            self.entries[key] = packed
            self.size += len(packed)
            while self.size > CACHE_MAX_BYTES and len(self.entries) > 1:
                _, old = self.entries.popitem(last=False)
                self.size -= len(old)
        return packed

    def _compress(self, plain: bytes) -> bytes:
        packer = zlib.compressobj(self.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
        return packer.compress(plain) + packer.flush()


class _CachedGzip:
    """Pure ASGI: a complete 200 answer of :data:`CACHE_MINIMUM_SIZE` bytes or more, to a client
    that accepts gzip, is sent gzip-encoded through ``cache``; everything else goes on untouched
    (to Starlette's middleware)."""

    def __init__(self, app: ASGIApp, cache: GzipCache, excluded: tuple[str, ...]) -> None:
        self.app = app
        self.cache = cache
        self.excluded = set(excluded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def send_cached(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and start is None:
                start = message  # held until the body shows whether it is cached
                return
            if start is not None:
                held, start = start, None
                if message["type"] == "http.response.body" and self._cacheable(held, message):
                    packed = await self.cache.packed(message["body"])
                    headers = MutableHeaders(raw=held["headers"])
                    headers["Content-Encoding"] = "gzip"
                    headers["Content-Length"] = str(len(packed))
                    headers.add_vary_header("Accept-Encoding")
                    await send(held)
                    await send({"type": "http.response.body", "body": packed, "more_body": False})
                    return
                await send(held)
            await send(message)

        await self.app(scope, receive, send_cached)

    def _cacheable(self, start: Message, body: Message) -> bool:
        if start["status"] != 200 or body.get("more_body", False):
            return False
        if len(body.get("body", b"")) < CACHE_MINIMUM_SIZE:
            return False
        headers = Headers(raw=start["headers"])
        media = headers.get("content-type", "").partition(";")[0].strip().lower()
        return (
            "content-encoding" not in headers and not {media, media.partition("/")[0] + "/*"} & self.excluded
        )


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


def add_compression(app: FastAPI, level: int, exclude_content_types: tuple[str, ...] = ()) -> GzipCache:
    """gzip (``level`` 1-9) answers of :data:`GZIP_MINIMUM_SIZE` bytes or more to clients that
    accept it, except Starlette's default exclusions (images, zips…) and ``exclude_content_types``;
    the large ones through the returned :class:`GzipCache` (also ``app.state.gzip_cache``)."""
    excluded = (*DEFAULT_EXCLUDED_CONTENT_TYPES, *exclude_content_types)
    cache = app.state.gzip_cache = GzipCache(level)
    # added first, so innermost: it sees the routes' answers before the gzip middleware, which
    # leaves what is already encoded alone; the weak ETags outermost, seeing the final headers
    app.add_middleware(_CachedGzip, cache=cache, excluded=excluded)
    app.add_middleware(
        GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE, compresslevel=level, exclude_content_types=excluded
    )
    app.add_middleware(_WeakEtagWhenEncoded)
    return cache
