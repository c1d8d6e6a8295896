"""A bounded writer for the reliability tests: threads that report cases (each with its own
Idempotency-Key, resent until acknowledged, as a device would) and accept some of them, and
that remember every acknowledgement the server gave."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from .helpers import PLACE


@dataclass
class Ledger:
    """What the server acknowledged: key → case id (2xx), accepted case ids, status counts."""

    acked: dict[str, str] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


class Writer:
    """``threads`` writers against ``url()`` (a callable: the server may move between restarts)."""

    def __init__(self, url: Any, token: str, threads: int = 4, prefix: str = "w") -> None:
        self.url = url
        self.token = token
        self.ledger = Ledger()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(f"{prefix}{i}",), daemon=True) for i in range(threads)]
        self.pending: dict[str, str] = {}  # thread → key sent but not yet acknowledged

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url(), headers={"Authorization": f"Bearer {self.token}"}, timeout=10.0, trust_env=False)

    def _run(self, name: str) -> None:
        n = 0
        client = self._client()
        key: str | None = None
        try:
            while not self._stop.is_set():
                if key is None:
                    n += 1
                    key = f"{name}-{n}"
                body = {"category": "facility", "tier": "T1", **PLACE, "description": key, "contact": f"tel-{key}"}
                try:
                    r = client.post("/cases", json=body, headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    self.ledger.errors += 1
                    client.close()
                    time.sleep(0.05)
                    client = self._client()
                    continue
                self.ledger.count(r.status_code)
                if r.status_code == 201:
                    case = r.json()
                    with self.ledger.lock:
                        prev = self.ledger.acked.setdefault(key, case["id"])
                    assert prev == case["id"], f"{key}: acknowledged as {prev} and as {case['id']}"
                    key = None
                    if n % 3 == 0:  # move some cases on, to crash in the middle of updates too
                        try:
                            a = client.post(f"/cases/{case['id']}/accept", headers={"If-Match": '"1"'})
                            self.ledger.count(a.status_code)
                            if a.status_code == 200:
                                with self.ledger.lock:
                                    self.ledger.accepted.add(case["id"])
                        except httpx.HTTPError:
                            self.ledger.errors += 1
                elif r.status_code in (409, 429, 503):
                    time.sleep(0.02)  # in flight / limited: the same key again shortly
                else:
                    raise AssertionError(f"unexpected {r.status_code}: {r.text[:300]}")
        finally:
            client.close()
