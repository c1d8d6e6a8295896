"""Suite-wide rules.

In CI (``CI=true``) a skipped test is a failed test: a missing service or browser must be
installed by ``.ci/run``, never silently passed over.

The suite runs on two pytest-xdist workers (``-n 2 --dist loadscope`` in pyproject's addopts;
``-n 0`` runs it in one process). The workers take whole groups of tests: a module's tests stay
together, so its module-scoped servers, load tests and simulations run once; and every test that
touches PostgreSQL, whatever its module, runs on one worker, one after another, because
tests/service/test_crash.py stops the server with ``-m immediate``, which no other test may meet
halfway through a transaction. The controller sees only test ids, so a PostgreSQL test says
``postgres`` in its id (its module, name or parameter; a worker fails it otherwise).
xdist's own ``--dist loadgroup`` would read ``xdist_group`` marks instead, but it loses them
with pytest 9.2 (pytest-dev/pytest-xdist#1386, open 2026-09).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_GROUP = "postgresql"


def _uses_postgres(item: pytest.Item) -> bool:
    return bool(item.get_closest_marker("postgres")) or "pg_url" in getattr(item, "fixturenames", ())


def pytest_runtest_setup(item: pytest.Item) -> None:
    """On an xdist worker: fail a PostgreSQL test the scheduler could not tell by its id."""
    if hasattr(item.config, "workerinput") and _uses_postgres(item) and "postgres" not in item.nodeid.lower():
        pytest.fail(
            f"{item.nodeid}: uses PostgreSQL, expected 'postgres' in its id (module, name or parameter) so that "
            "the xdist scheduler keeps it on the PostgreSQL worker (tests/conftest.py)",
            pytrace=False,
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` by module, with every PostgreSQL test in one group."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndPostgres(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return POSTGRES_GROUP if "postgres" in nodeid.lower() else nodeid.split("::", 1)[0]

    return ModulesAndPostgres(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must install every service and browser: {reason}"
