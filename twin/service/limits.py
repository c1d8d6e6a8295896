"""Limits that keep the service calm under abuse and overload.

- :class:`BodyLimitMiddleware` — a request body over the limit is answered 413 before it is read
  whole (Content-Length checked up front, streamed bodies counted).
- :class:`ConcurrencyLimitMiddleware` — beyond ``max_in_flight`` requests being served by this
  process, new ones get 503 with ``Retry-After`` at once. Nothing has been done for them, so
  nothing is lost: the client retries later. Latency of accepted requests stays bounded.
- :class:`RateLimiter` — a token bucket per principal (429 with ``Retry-After``), applied after
  authentication.

All limits are per process; with ``--workers N`` the service as a whole admits N times as much.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _send_error(send: Send, status: int, reason: str, retry_after: int | None = None, error: str | None = None) -> None:
    code = error or {413: "payload_too_large", 503: "overloaded"}.get(status, "error")
    body = json.dumps({"error": code, "reason": reason}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framed = False  # a Content-Length within the limit, and no Transfer-Encoding
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    n = 0
                if n > self.max_bytes:
                    await _send_error(send, 413, f"request body of {n} bytes exceeds the limit of {self.max_bytes} bytes")
                    return
                framed = n >= 0 and value.isdigit()
            elif name == b"transfer-encoding":
                framed = False
                break
        if framed:  # the server reads exactly Content-Length bytes: nothing to count (the hot path)
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_error(send, 413, f"request body exceeds the limit of {self.max_bytes} bytes")


class NulGuardMiddleware:
    """Refuses a request whose path or query string carries the NUL character (``%00``): no
    field of this API may hold it (PostgreSQL cannot store it in text), and a query that
    reached the database with it would fail there as a 500. 422 with the reason; on the Open311
    facade its error format (400, as GeoReport v2 answers bad parameters)."""

    def __init__(self, app: ASGIApp, open311_error: Any = None) -> None:
        self.app = app
        self.open311_error = open311_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            path: str = scope.get("path", "")
            if "\x00" in path or (b"%00" in query.lower()) or b"\x00" in query:
                where = "path" if "\x00" in path else "query"
                reason = f"{where}: the NUL character (U+0000) is not allowed in text"
                if path.startswith("/open311/") and self.open311_error is not None:
                    await self.open311_error(path, 400, reason)(scope, receive, send)
                    return
                await _send_error(send, 422, reason, error="invalid_input")
                return
        await self.app(scope, receive, send)


#: The one path the in-flight limit lets through (see :class:`ConcurrencyLimitMiddleware`).
EXEMPT_PATH = "/metrics"


class ConcurrencyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after: int = 1) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.in_flight = 0
        self.served = 0  # requests answered (GET /metrics reports these three)
        self.refused = 0  # of them, answered 503 at the limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.served += 1
        # one event loop: no lock needed. GET /metrics is let through at the limit: it is how a
        # load test sees what saturated (it reads counters only, never the database).
        if self.in_flight >= self.max_in_flight and scope["path"] != EXEMPT_PATH:
            self.refused += 1
            await _send_error(
                send, 503, f"the service is at its limit of {self.max_in_flight} requests in flight; retry later", self.retry_after
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class RateLimiter:
    """Token buckets keyed by principal: ``rate`` requests a second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> int | None:
        """Take one token; None if allowed, else the seconds to wait (for ``Retry-After``)."""
        if self.rate <= 0:
            return None
        t = time.monotonic() if now is None else now
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = [self.burst, t]
            tokens = min(self.burst, b[0] + (t - b[1]) * self.rate)
            b[1] = t
            if tokens >= 1.0:
                b[0] = tokens - 1.0
                return None
            b[0] = tokens
            return max(1, math.ceil((1.0 - tokens) / self.rate))
