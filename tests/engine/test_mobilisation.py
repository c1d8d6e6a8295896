"""The mobilisation store (twin/engine/mobilisation.py) on SQLite and PostgreSQL: check-ins
unique per member under concurrent retries, the team rule, claims that only one member wins,
completion only by the claimer, scope by community and team, and durability across a reopen."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from twin.engine.mobilisation import (
    DEFAULT_TEAMS,
    MobilisationStore,
    PostgresMobilisationStore,
    SQLiteMobilisationStore,
    TeamSpec,
    pick_team,
    team_of_category,
)
from twin.engine.sqlite import SQLiteStore

from ..service.helpers import fresh_pg_database

MOB = "m1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], MobilisationStore]]:
    """Opens (and reopens) a mobilisation store on a fresh database whose engine store has
    migrated it, as the service opens them."""
    opened: list[MobilisationStore] = []
    if request.param == "sqlite":
        path = tmp_path / "m.db"
        SQLiteStore(path).close()

        def make() -> MobilisationStore:
            s: MobilisationStore = SQLiteMobilisationStore(str(path))
            opened.append(s)
            return s

        yield make
    else:
        from twin.engine.postgres import PostgresStore

        with fresh_pg_database() as url:
            PostgresStore(url).close()

            def make() -> MobilisationStore:
                s: MobilisationStore = PostgresMobilisationStore(url, max_size=12)
                opened.append(s)
                return s

            try:
                yield make
            finally:
                for s in opened:
                    s.close()
                opened.clear()
    for s in opened:
        s.close()


def _declared(store: MobilisationStore) -> MobilisationStore:
    store.declare(MOB, 1000.0, "secret", 10)
    return store


def test_team_rule_fills_by_share_then_follows_open_tasks() -> None:
    members: dict[str, int] = {}
    order = []
    for _ in range(20):
        t = pick_team(DEFAULT_TEAMS, members, {})
        members[t] = members.get(t, 0) + 1
        order.append(t)
    assert order[:4] == ["supply", "patrol", "checks", "transport"], "largest quota gap first, ties by team order"
    assert members == {"supply": 6, "patrol": 6, "transport": 3, "checks": 5}, "20 members by shares 0.30/0.30/0.15/0.25"
    # five open transport tasks and one transport member: transport's shortfall (4) beats the quotas'
    assert pick_team(DEFAULT_TEAMS, {"supply": 3, "patrol": 3, "transport": 1, "checks": 3}, {"transport": 5}) == "transport"
    # a tie between equal teams goes to the earlier one
    twins = (TeamSpec("a", 0.5), TeamSpec("b", 0.5))
    assert pick_team(twins, {}, {}) == "a"
    assert pick_team(twins, {"a": 1}, {}) == "b"
    assert team_of_category(DEFAULT_TEAMS)["trapped_people"] == "patrol"


def test_checkin_is_unique_under_concurrent_retries(opener: Callable[[], MobilisationStore]) -> None:
    store = _declared(opener())
    members = [f"M{i:03d}" for i in range(30)]
    results: list[tuple[str, str, bool]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def device(k: int) -> None:  # six devices retry every member's check-in, each in another order
        barrier.wait()
        for mid in members[k:] + members[:k]:
            ci, created = store.check_in(MOB, mid, "C1", 1001.0, DEFAULT_TEAMS, f"h-{mid}")
            with lock:
                results.append((mid, ci.checkin_id, created))

    threads = [threading.Thread(target=device, args=(k * 5,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.checkin_count(MOB) == 30, "one row per member however often they retried"
    assert sum(created for _, _, created in results) == 30, "exactly one attempt per member made the record"
    ids = {mid: {cid for m2, cid, _ in results if m2 == mid} for mid in members}
    assert all(len(v) == 1 for v in ids.values()), "every retry answered the same record"
    by_team = store.stats(MOB)["by_team"]
    assert by_team == {"supply": 9, "patrol": 9, "transport": 5, "checks": 7}, "the team rule held under concurrency (serialised per community)"


def test_a_member_checked_in_elsewhere_keeps_the_first_record(opener: Callable[[], MobilisationStore]) -> None:
    store = _declared(opener())
    first, created = store.check_in(MOB, "M1", "C1", 1001.0, DEFAULT_TEAMS, "h")
    again, created2 = store.check_in(MOB, "M1", "C2", 1002.0, DEFAULT_TEAMS, "h")
    assert created and not created2 and again == first


def test_claim_is_won_once_and_scoped_to_team_and_community(opener: Callable[[], MobilisationStore]) -> None:
    store = _declared(opener())
    task, created = store.add_task(MOB, "C1", "supply", "supply_delivery", "", "staff", 1002.0)
    assert created and task.status == "open" and task.version == 1
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def member(i: int) -> None:
        barrier.wait()
        outcome, _ = store.claim(MOB, task.task_id, "C1", "supply", f"M{i}", 1003.0)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=member, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["claimed"] + ["taken"] * 7, "one conditional UPDATE wins; the others see it taken"
    winner = store.task(task.task_id)
    assert winner is not None and winner.status == "claimed" and winner.version == 2
    assert store.claim(MOB, task.task_id, "C1", "supply", str(winner.claimed_by), 1004.0)[0] == "already_yours"
    assert store.claim(MOB, task.task_id, "C1", "patrol", "P1", 1004.0) == ("not_found", None), "another team: not found"
    assert store.claim(MOB, task.task_id, "C2", "supply", "S2", 1004.0) == ("not_found", None), "another community: not found"
    assert store.claim("m9", task.task_id, "C1", "supply", "M9", 1004.0) == ("not_found", None), "another mobilisation: not found"


def test_only_the_claimer_completes_once(opener: Callable[[], MobilisationStore]) -> None:
    store = _declared(opener())
    task, _ = store.add_task(MOB, "C1", "checks", "visit_elder", "Bldg 3", "staff", 1002.0)
    assert store.complete(MOB, task.task_id, "C1", "checks", "M1", "done", 1003.0)[0] == "not_yours", "an open task is nobody's yet"
    store.claim(MOB, task.task_id, "C1", "checks", "M1", 1003.0)
    assert store.complete(MOB, task.task_id, "C1", "checks", "M2", "done", 1004.0)[0] == "not_yours"
    outcome, done = store.complete(MOB, task.task_id, "C1", "checks", "M1", "visited, well", 1005.0)
    assert outcome == "done" and done is not None and done.result == "visited, well" and done.version == 3
    again = store.complete(MOB, task.task_id, "C1", "checks", "M1", "other words", 1006.0)
    assert again == ("already_done", done), "a repeat answers the same task"


def test_a_case_makes_one_task(opener: Callable[[], MobilisationStore]) -> None:
    store = _declared(opener())
    a, made = store.add_task(MOB, "C1", "supply", "supply_requests", "", "system", 1002.0, case_id="case-1")
    b, made2 = store.add_task(MOB, "C1", "supply", "supply_requests", "", "system", 1003.0, case_id="case-1")
    assert made and not made2 and a == b
    store.add_task(MOB, "C1", "supply", "hand-made", "", "staff", 1004.0)
    store.add_task(MOB, "C1", "supply", "hand-made", "", "staff", 1004.0)
    assert store.stats(MOB)["tasks"] == {"open": 3, "claimed": 0, "done": 0}, "tasks without a case are never merged"


def test_checkins_and_tasks_survive_a_reopen(opener: Callable[[], MobilisationStore]) -> None:
    store = _declared(opener())
    ci, _ = store.check_in(MOB, "M1", "C1", 1001.0, DEFAULT_TEAMS, "h")
    task, _ = store.add_task(MOB, "C1", ci.team, "k", "", "staff", 1002.0)
    store.claim(MOB, task.task_id, "C1", ci.team, "M1", 1003.0)
    store.close()
    again = opener()
    assert again.checkin(MOB, "M1") == ci
    row = again.mobilisation(MOB)
    assert row is not None and row.expected_members == 10 and row.secret == "secret"
    t = again.task(task.task_id)
    assert t is not None and t.claimed_by == "M1"
    assert again.nth_checkin_at(MOB, 1) == 1001.0 and again.nth_checkin_at(MOB, 2) is None
