"""Running the service on uvicorn: one process or several on one listening socket.

We bind the socket ourselves so that (1) ``--port 0`` works — the chosen port is printed as
``gridtwin serving on http://HOST:PORT`` for scripts and tests to read — and (2) TCP_NODELAY is
set on the shared listening socket, which uvicorn omits with ``--workers > 1`` (uvicorn issue
#3149: without it every response waits ~40 ms for delayed ACKs). Accepted connections inherit
the option from the listening socket on Linux.
"""

from __future__ import annotations

import os
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from twin.service.app import ServiceConfig


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def serve(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning") -> None:
    """Serve until interrupted. Configuration reaches worker processes through the environment."""
    os.environ.update(config.to_env())
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    print(f"gridtwin serving on http://{host}:{bound} (db {config.db}, {workers} worker(s))", flush=True)
    ucfg = uvicorn.Config(
        "twin.service.app:app_from_env",
        factory=True,
        host=host,
        port=bound,
        workers=workers,
        log_level=log_level,
        access_log=False,
        backlog=2048,
        timeout_graceful_shutdown=5,
        # keep idle connections longer than the clients and proxies in front of us do (nginx's
        # keepalive_timeout 75 s): with uvicorn's 5 s a client re-using a connection just as the
        # server closes it gets "disconnected without a response" — seen under a loaded test run
        timeout_keep_alive=75,
    )
    if workers > 1:
        Multiprocess(ucfg, sockets=[sock]).run()
    else:
        server = uvicorn.Server(ucfg)
        server.run(sockets=[sock])
        if not server.started:
            sys.exit(3)
