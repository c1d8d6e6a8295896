"""Up-front checks of the command line's inputs, before anything is simulated or written.

Two kinds of failure, two exit codes (as ``pytest`` and ``ruff`` do):

* :class:`BadInput` (exit 2): what was typed cannot be right — a negative seed, an output
  directory that is an existing file, a database path in a directory that does not exist.
* :class:`Unavailable` (exit 1): the input is fine but the machine cannot serve it now — a busy
  port, an unreachable PostgreSQL, a path without write permission.

Both are Typer's ``ClickException`` so that Typer's own runner and :func:`twin.cli.run_cli`
report them as one line naming the option, what was expected and what was given.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import typer


def _base(name: str) -> type[Exception]:
    """Typer's own click exception class ``name`` (newer Typer vendors click as ``typer._click``)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


#: The base of click's reportable errors (``.exit_code``, ``.format_message()``), and of usage errors.
ClickException = _base("ClickException")
UsageError = _base("UsageError")

#: The least ``--days`` any command takes; commands that measure KPIs also need more than the warm-up.
MIN_DAYS = 0.01

#: Seconds a PostgreSQL connection attempt may take before the host is named as unreachable.
PG_CONNECT_TIMEOUT_S = 3


class BadInput(ClickException):  # type: ignore[misc,valid-type]
    """The command line itself is wrong: exit code 2, nothing written."""

    exit_code = 2


class Unavailable(ClickException):  # type: ignore[misc,valid-type]
    """A resource named on the command line cannot be used now: exit code 1, nothing written."""

    exit_code = 1


class Interrupted(ClickException):  # type: ignore[misc,valid-type]
    """Ctrl-C: exit code 130, with a word on what was kept."""

    exit_code = 130


def _first_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _writable_under(path: Path, option: str) -> None:
    """``path`` may be created: its nearest existing ancestor is a writable directory."""
    anc = _first_existing(path.parent if not path.exists() else path)
    if not anc.is_dir():
        raise BadInput(f"{option} {path}: expected a path under a directory, but {anc} is an existing file")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise Unavailable(f"{option} {path}: cannot write in {anc} (permission denied); choose another {option}")


def out_dir(path: Path, option: str = "--out") -> Path:
    """An output directory: new, or an existing directory; never an existing file."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{option} {path}: expected a directory (new or existing), got an existing file")
    _writable_under(path, option)
    return path


def out_file(path: Path, option: str = "--out") -> Path:
    """An output file: new or an existing file (overwritten); never a directory."""
    if path.is_dir():
        raise BadInput(f"{option} {path}: expected a file path, got an existing directory")
    _writable_under(path, option)
    return path


def port_free(host: str, port: int, option: str = "--port") -> None:
    """``host:port`` can be listened on now (port 0 always can: the system picks one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BadInput(f"--host {host!r}: expected an address or name of this machine ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise BadInput(f"--host {host}: expected an address of this machine, got one it does not have") from None
            hint = "another process is listening there" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise Unavailable(f"{option} {port}: cannot listen on {host}:{port} ({hint}); try another {option} or {option} 0") from None


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def database(url: str, option: str = "--db", *, memory_ok: bool = True) -> None:
    """The database named by ``url`` can be opened: a SQLite file's directory exists, a
    PostgreSQL server answers within :data:`PG_CONNECT_TIMEOUT_S` seconds."""
    if url.startswith(("postgresql://", "postgres://")):
        _postgres(url, option)
        return
    if url == "memory:":
        if not memory_ok:
            raise BadInput(f"{option} memory:: expected a durable database (a SQLite path or postgresql://…), got memory:")
        return
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    if "://" in path:
        raise BadInput(f"{option} {url!r}: expected a SQLite path, sqlite:///path, postgresql://… or memory:")
    p = Path(path)
    if p.is_dir():
        raise BadInput(f"{option} {url}: expected a SQLite file path, got an existing directory")
    if not p.absolute().parent.is_dir():
        raise BadInput(f"{option} {url}: expected a SQLite file in an existing directory, but {p.absolute().parent} is not one")
    _writable_under(p, option)


def _postgres(url: str, option: str) -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise BadInput(f"{option} {_redact(url)}: expected postgresql://user:password@host:port/database ({exc})") from None
    where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
    try:
        psycopg.connect(url, connect_timeout=PG_CONNECT_TIMEOUT_S).close()
    except psycopg.OperationalError as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
        raise Unavailable(
            f"{option}: cannot connect to PostgreSQL at {where} ({reason}); is it running, and is the URL right?"
        ) from None
