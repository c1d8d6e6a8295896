"""Processes a load test starts — the service and Locust — and the promise to stop them all.

Each child runs in its own session (its own process group), so stopping it stops what it
started too (uvicorn workers, Locust workers); Linux's parent-death signal stops it even if
``twin loadtest`` itself is killed outright. :class:`Processes` is a context manager: leaving
it (normally, on an error or on Ctrl-C) terminates every group, then kills what is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

LOCUST = os.environ.get("GRIDTWIN_LOCUST", str(Path(sys.executable).with_name("locust")))
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):  # not Linux: no parent-death signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now on ``host`` (for Locust's master, which needs a number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Processes:
    """The children of one load test; records their pids in ``pids_file`` as they start."""

    def __init__(self, pids_file: Path | None = None) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.pids_file = pids_file

    def start(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("ab")
        try:
            p = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()
        self.children.append((name, p))
        self._record()
        return p

    def _record(self) -> None:
        if self.pids_file is not None:
            data = {name: p.pid for name, p in self.children}
            self.pids_file.write_text(json.dumps(data) + "\n", encoding="utf-8")

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.children}

    def stop(self, grace: float = 8.0) -> None:
        """SIGTERM (SIGINT for Locust, which then writes its CSVs) to every group; SIGKILL after ``grace``."""
        for name, p in reversed(self.children):
            if p.poll() is None:
                sig = signal.SIGINT if name.startswith("locust") else signal.SIGTERM
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, sig)
        deadline = time.monotonic() + grace
        for _name, p in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _name, p in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)  # the group may hold grandchildren even if p is gone
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


SERVING = re.compile(r"gridtwin serving on (http://\S+)")


def wait_for_line(log: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes], timeout: float) -> str:
    """Wait until ``log`` has a line matching ``pattern`` (its group 1); fail if ``proc`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        m = pattern.search(text)
        if m:
            return m.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before it was ready; see {log}:\n{text[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"process {proc.pid} not ready after {timeout:g} s; see {log}")


def start_service(procs: Processes, db: str, log: Path, workers: int = 1, extra: Sequence[str] = ()) -> str:
    """``twin serve`` on a free loopback port; returns its base URL once it answers /health."""
    argv = [sys.executable, "-c", "from twin.cli import main; main()", "serve", "--db", db, "--host", "127.0.0.1", "--port", "0",
            "--workers", str(workers), *extra]
    p = procs.start("service", argv, log)
    url = wait_for_line(log, SERVING, p, timeout=60.0)
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"twin serve exited with {p.returncode}; see {log}")
        with contextlib.suppress(urllib.error.URLError, OSError), urllib.request.urlopen(url + "/health", timeout=1.0) as r:  # noqa: S310
            if r.status == 200:
                return url
        time.sleep(0.1)
    raise RuntimeError(f"twin serve at {url} did not answer /health; see {log}")


def locust_argv(locustfile: Path, host: str, csv_prefix: Path, html: Path | None, role: str = "local",
                master_port: int | None = None, expect_workers: int = 0) -> list[str]:
    """The Locust command line for one process (local, master or worker)."""
    argv = [LOCUST, "-f", str(locustfile), "--host", host, "--loglevel", "WARNING"]
    if role == "worker":
        return [*argv, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)]
    argv += ["--headless", "--csv", str(csv_prefix), "--csv-full-history", "--exit-code-on-error", "0", "--only-summary",
             "--stop-timeout", "15"]  # users stopped by the shape finish their task (an arrival is never cut off)
    if html is not None:
        argv += ["--html", str(html)]
    if role == "master":
        argv += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
                 "--expect-workers", str(expect_workers), "--expect-workers-max-wait", "60"]
    return argv


class Interrupt(Exception):
    """SIGTERM received: unwind (and stop the children) as on Ctrl-C."""


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM into an exception in the main thread so that cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield None
    finally:
        signal.signal(signal.SIGTERM, old)
