"""JSON for the hot paths: stored case documents, event data and HTTP responses.

orjson encodes and decodes several times faster than the standard library, and every
transition the service handles encodes a case twice (the stored document and the response).
The output is the same compact UTF-8 JSON that ``json.dumps(..., ensure_ascii=False,
separators=(",", ":"))`` writes for the engine's plain values. Anything orjson refuses (a
type it does not know, a non-string key) falls back to the standard library, so callers see
one behaviour: what ``json`` accepts is accepted.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTS = orjson.OPT_SERIALIZE_NUMPY


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(obj, option=_OPTS)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_text(obj: Any) -> str:
    """Compact JSON as text (for TEXT columns)."""
    return dumps(obj).decode()


loads = orjson.loads
"""Parse JSON from ``str`` or ``bytes`` (raises ``orjson.JSONDecodeError``, a ``ValueError``)."""
