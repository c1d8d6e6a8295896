"""Reading a TOML file (a scenario, a drill script, a city's teams) with one-line errors.

Every reader of a file the user names answers its failures alike — the file, what was wrong
with it (``(file)``: missing or unreadable; ``(syntax)``: not TOML), what was expected and what
was found — so ``twin run nope.toml``, ``twin drill --script nope.toml`` and ``twin serve
--categories nope.toml`` read the same. Low in the layers (it imports nothing of the twin):
the scenario, the drill and the service use it alike.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_toml(path: Path, label: str, what: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """The tables of the TOML file at ``path``; ``error`` (a one-line message naming ``label``
    and ``what`` the file should be, e.g. "scenario file") when it is missing, unreadable or
    not valid TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{label}: (file): expected an existing {what}, got no such file") from None
    except OSError as exc:
        raise error(f"{label}: (file): expected a readable {what}, got {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{label}: (syntax): expected valid TOML, got {exc}") from None
