"""Mobilisation (应急动员): members check in (报到) to a community, are placed in a team, and
claim and complete that team's tasks — the platform side of the switch to an emergency mode.

How practice runs it (Wuhan, 党员生活 2023-12-04; ../shared/CALIBRATION.md): some 400,000
residence-registered party members (双报到) can be called; 1,574 reported to one community;
members claimed posts (认领岗位) 585,600 times; on the switch the app enters an emergency mode
and places people automatically into 保供 (supply) and the other emergency teams. This module
is that mechanism as data and rules, on the engine's database:

- a **mobilisation** opens when the mode leaves normal and closes when it returns (its id and
  times come from the service's mode log; the row here keeps what the declaration added: the
  expected number of members and the secret member tokens are derived from);
- a **check-in** is unique per (mobilisation, member) — enforced by the primary key, so a
  retried or duplicated check-in can never add a second row;
- the **team** is chosen inside the check-in's transaction (serialised per community) by
  :func:`pick_team`: the team of the community with the largest shortfall;
- a **task** belongs to one community and one team; a claim is one conditional ``UPDATE … WHERE
  status = 'open'`` (never read-then-write), so two members can never both hold it.

Personal data: member ids only (no names, no phone numbers). Times are engine minutes (Unix
epoch). The SQL is plain enough for SQLite and PostgreSQL alike; the tables are created by the
engine stores' schema migrations (:data:`MOBILISATION_DDL`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from twin.engine.sqltables import PostgresTables, SQLiteTables, SqlTables, sqlite_path

#: The tables (created by the SQLite store's migration 3 and the PostgreSQL store's migration 4).
MOBILISATION_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS mob_mobilisations (
        id TEXT PRIMARY KEY,
        declared_at DOUBLE PRECISION NOT NULL,
        expected_members INTEGER,
        secret TEXT NOT NULL,
        case_cursor BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS mob_checkins (
        mobilisation_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        community TEXT NOT NULL,
        team TEXT NOT NULL,
        checked_in_at DOUBLE PRECISION NOT NULL,
        checkin_id TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL,
        PRIMARY KEY (mobilisation_id, member_id)
    )""",
    "CREATE INDEX IF NOT EXISTS mob_checkins_team ON mob_checkins (mobilisation_id, community, team)",
    "CREATE INDEX IF NOT EXISTS mob_checkins_time ON mob_checkins (mobilisation_id, checked_in_at)",
    """CREATE TABLE IF NOT EXISTS mob_tasks (
        task_id TEXT PRIMARY KEY,
        mobilisation_id TEXT NOT NULL,
        community TEXT NOT NULL,
        team TEXT NOT NULL,
        kind TEXT NOT NULL,
        note TEXT NOT NULL,
        case_id TEXT,
        status TEXT NOT NULL,
        claimed_by TEXT,
        result TEXT,
        created_by TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        claimed_at DOUBLE PRECISION,
        done_at DOUBLE PRECISION,
        version INTEGER NOT NULL,
        UNIQUE (mobilisation_id, case_id)
    )""",
    "CREATE INDEX IF NOT EXISTS mob_tasks_team ON mob_tasks (mobilisation_id, community, team, status)",
)

TaskStatus = Literal["open", "claimed", "done"]
TASK_STATUSES: tuple[TaskStatus, ...] = ("open", "claimed", "done")


@dataclass(frozen=True, slots=True)
class TeamSpec:
    """An automatic emergency team: its share of a community's members and the case
    categories whose emergency reports become its tasks."""

    name: str
    share: float
    handles: tuple[str, ...] = ()


#: The teams when the service is given none: the flood scenario's [emergency.teams]
#: (scenarios/flood.toml; shares [A]) — Wuhan's 自动编入"保供"等各类应急队伍 (党员生活 2023-12-04):
#: 保供 supply, 巡查/卡口 patrol, 转运 transfer and escort, 照护 visits to elders living alone.
DEFAULT_TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec("supply", 0.30, ("supply_requests",)),
    TeamSpec("patrol", 0.30, ("waterlogging", "trapped_people")),
    TeamSpec("transport", 0.15, ("medical_escorts", "trapped_people")),
    TeamSpec("checks", 0.25, ()),
)


def pick_team(teams: Sequence[TeamSpec], members: dict[str, int], open_tasks: dict[str, int]) -> str:
    """The team a new member of a community joins: the one with the largest shortfall, ties
    by team order. A team's shortfall is the larger of its open tasks beyond its members and
    its quota (its share of the community's members, this one included) beyond its members —
    so members follow the work when tasks pile up and fill the teams by share otherwise."""
    n = sum(members.values()) + 1
    best, best_gap = teams[0].name, float("-inf")
    for t in teams:
        have = members.get(t.name, 0)
        gap = max(open_tasks.get(t.name, 0) - have, t.share * n - have)
        if gap > best_gap + 1e-9:
            best, best_gap = t.name, gap
    return best


def team_of_category(teams: Sequence[TeamSpec]) -> dict[str, str]:
    """Case category → the first team that handles it (the team its emergency reports go to)."""
    out: dict[str, str] = {}
    for t in teams:
        for c in t.handles:
            out.setdefault(c, t.name)
    return out


@dataclass(frozen=True, slots=True)
class MobilisationRow:
    """What a declaration stored: the id (``m<seq of the mode change>``), when, how many
    members are expected (None: not given), the secret member tokens derive from, and the
    audit-log position up to which reports were turned into tasks."""

    id: str
    declared_at: float
    expected_members: int | None
    secret: str
    case_cursor: int = 0


@dataclass(frozen=True, slots=True)
class Checkin:
    checkin_id: str
    mobilisation_id: str
    member_id: str
    community: str
    team: str
    checked_in_at: float
    token_hash: str


@dataclass(frozen=True, slots=True)
class Task:
    task_id: str
    mobilisation_id: str
    community: str
    team: str
    kind: str
    note: str
    case_id: str | None
    status: TaskStatus
    claimed_by: str | None
    result: str | None
    created_by: str
    created_at: float
    claimed_at: float | None
    done_at: float | None
    version: int


@dataclass(frozen=True, slots=True)
class EmergencyReport:
    """A report made outside normal mode, as the audit log holds it: what a task is made from."""

    seq: int
    at: float
    case_id: str
    category: str
    community: str


ClaimOutcome = Literal["claimed", "already_yours", "taken", "not_found"]
CompleteOutcome = Literal["done", "already_done", "not_yours", "not_found"]

_CHECKIN_COLS = "checkin_id, mobilisation_id, member_id, community, team, checked_in_at, token_hash"
_TASK_COLS = (
    "task_id, mobilisation_id, community, team, kind, note, case_id, status, claimed_by, result, "
    "created_by, created_at, claimed_at, done_at, version"
)


def _checkin(r: Sequence[Any]) -> Checkin:
    return Checkin(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), float(r[5]), str(r[6]))


def _task(r: Sequence[Any]) -> Task:
    return Task(
        str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), r[6], r[7], r[8], r[9], str(r[10]),
        float(r[11]), None if r[12] is None else float(r[12]), None if r[13] is None else float(r[13]), int(r[14]),
    )


class MobilisationStore(SqlTables):
    """The mobilisation tables on one database; :class:`~twin.engine.sqltables.SqlTables`'
    subclasses give the connections, transactions and placeholders."""

    #: The engine's audit-log table in this database (None: not here, as in ``memory:``).
    events_table: str | None = None

    # ---------------------------------------------------------- mobilisations
    def declare(self, mobilisation_id: str, declared_at: float, secret: str, expected_members: int | None = None) -> MobilisationRow:
        """The row of a mobilisation, created on first sight (whoever sees the declaration
        first; the first secret stays). ``expected_members`` given: set (the declaration's own
        figure wins over an earlier row made without it)."""
        log_end = f"(SELECT coalesce(max(seq), 0) FROM {self.events_table})" if self.events_table else "0"
        with self._tx() as cur:
            cur.execute(
                self._q(
                    "INSERT INTO mob_mobilisations (id, declared_at, expected_members, secret, case_cursor) "
                    f"VALUES (?, ?, ?, ?, {log_end}) ON CONFLICT (id) DO NOTHING"
                ),
                (mobilisation_id, declared_at, expected_members, secret),
            )
            if expected_members is not None:
                cur.execute(self._q("UPDATE mob_mobilisations SET expected_members = ? WHERE id = ?"), (expected_members, mobilisation_id))
        row = self.mobilisation(mobilisation_id)
        assert row is not None
        return row

    def mobilisation(self, mobilisation_id: str) -> MobilisationRow | None:
        r = self._one("SELECT id, declared_at, expected_members, secret, case_cursor FROM mob_mobilisations WHERE id = ?", (mobilisation_id,))
        return None if r is None else MobilisationRow(str(r[0]), float(r[1]), None if r[2] is None else int(r[2]), str(r[3]), int(r[4]))

    def advance_cursor(self, mobilisation_id: str, seq: int) -> None:
        """Move the audit-log position reports were turned into tasks up to (never back)."""
        with self._tx() as cur:
            cur.execute(self._q("UPDATE mob_mobilisations SET case_cursor = ? WHERE id = ? AND case_cursor < ?"), (seq, mobilisation_id, seq))

    # --------------------------------------------------------------- check-ins
    def check_in(
        self, mobilisation_id: str, member_id: str, community: str, at: float, teams: Sequence[TeamSpec], token_hash: str
    ) -> tuple[Checkin, bool]:
        """Check ``member_id`` in: (the record, True) when new; (the member's existing record,
        False) when they already checked in to this mobilisation — to any community. The team is
        picked in the same transaction, serialised per community."""
        with self._tx(lock=f"{mobilisation_id}|{community}") as cur:
            cur.execute(self._q(f"SELECT {_CHECKIN_COLS} FROM mob_checkins WHERE mobilisation_id = ? AND member_id = ?"), (mobilisation_id, member_id))
            old = cur.fetchone()
            if old is not None:
                return _checkin(old), False
            cur.execute(
                self._q("SELECT team, count(*) FROM mob_checkins WHERE mobilisation_id = ? AND community = ? GROUP BY team"),
                (mobilisation_id, community),
            )
            members = {str(t): int(n) for t, n in cur.fetchall()}
            cur.execute(
                self._q("SELECT team, count(*) FROM mob_tasks WHERE mobilisation_id = ? AND community = ? AND status = 'open' GROUP BY team"),
                (mobilisation_id, community),
            )
            open_tasks = {str(t): int(n) for t, n in cur.fetchall()}
            rec = Checkin(str(uuid.uuid4()), mobilisation_id, member_id, community, pick_team(teams, members, open_tasks), at, token_hash)
            cur.execute(
                self._q(
                    f"INSERT INTO mob_checkins ({_CHECKIN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (mobilisation_id, member_id) DO NOTHING"
                ),
                (rec.checkin_id, rec.mobilisation_id, rec.member_id, rec.community, rec.team, rec.checked_in_at, rec.token_hash),
            )
            if cur.rowcount == 1:
                return rec, True
            # the same member checking in to another community at the same moment won the row
            cur.execute(self._q(f"SELECT {_CHECKIN_COLS} FROM mob_checkins WHERE mobilisation_id = ? AND member_id = ?"), (mobilisation_id, member_id))
            return _checkin(cur.fetchone()), False

    def checkin(self, mobilisation_id: str, member_id: str) -> Checkin | None:
        r = self._one(f"SELECT {_CHECKIN_COLS} FROM mob_checkins WHERE mobilisation_id = ? AND member_id = ?", (mobilisation_id, member_id))
        return None if r is None else _checkin(r)

    def checkin_count(self, mobilisation_id: str) -> int:
        return int(self._one("SELECT count(*) FROM mob_checkins WHERE mobilisation_id = ?", (mobilisation_id,))[0])

    def token_hashes(self, mobilisation_id: str) -> list[str]:
        """The hashes of the member tokens this mobilisation issued (to revoke them at its close)."""
        return [str(r[0]) for r in self._all("SELECT token_hash FROM mob_checkins WHERE mobilisation_id = ?", (mobilisation_id,))]

    # ------------------------------------------------------------------- tasks
    #: How a report event's category and community are read from its JSON data (per database).
    _json_field = "json_extract(data, '$.{0}')"

    def emergency_reports(self, after_seq: int) -> list[EmergencyReport]:
        """The REPORT events after ``after_seq`` made outside normal mode, read from the
        engine's audit log in this database (only those rows and fields: the transitions around
        them are not decoded). Raises LookupError where the log is elsewhere (``memory:``)."""
        if self.events_table is None:
            raise LookupError("the audit log is not in this database")
        cat, com = self._json_field.format("category"), self._json_field.format("community")
        rows = self._all(
            f"SELECT seq, at, case_id, {cat}, {com} FROM {self.events_table} "
            "WHERE seq > ? AND action = 'report' AND mode <> 'normal' ORDER BY seq",
            (after_seq,),
        )
        return [EmergencyReport(int(r[0]), float(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def add_case_tasks(self, mobilisation_id: str, items: Sequence[tuple[EmergencyReport, str]], at: float) -> int:
        """Tasks for reports (each with its team) in one transaction, one per case (a case that
        has its task already is passed over); how many were made."""
        made = 0
        with self._tx() as cur:
            for rep, team in items:
                cur.execute(
                    self._q(
                        f"INSERT INTO mob_tasks ({_TASK_COLS}) VALUES (?, ?, ?, ?, ?, '', ?, 'open', NULL, NULL, 'system', ?, NULL, NULL, 1) "
                        "ON CONFLICT (mobilisation_id, case_id) DO NOTHING"
                    ),
                    (str(uuid.uuid4()), mobilisation_id, rep.community, team, rep.category, rep.case_id, at),
                )
                made += cur.rowcount == 1
        return made

    def add_task(
        self, mobilisation_id: str, community: str, team: str, kind: str, note: str, created_by: str, at: float, case_id: str | None = None
    ) -> tuple[Task, bool]:
        """A new open task (True); for a ``case_id`` that already has its task in this
        mobilisation, that task (False) — a case makes one task however often it is seen."""
        task_id = str(uuid.uuid4())
        with self._tx() as cur:
            cur.execute(
                self._q(
                    f"INSERT INTO mob_tasks ({_TASK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', NULL, NULL, ?, ?, NULL, NULL, 1) "
                    "ON CONFLICT (mobilisation_id, case_id) DO NOTHING"
                ),
                (task_id, mobilisation_id, community, team, kind, note, case_id, created_by, at),
            )
            created = cur.rowcount == 1
            if created:
                cur.execute(self._q(f"SELECT {_TASK_COLS} FROM mob_tasks WHERE task_id = ?"), (task_id,))
            else:
                cur.execute(self._q(f"SELECT {_TASK_COLS} FROM mob_tasks WHERE mobilisation_id = ? AND case_id = ?"), (mobilisation_id, case_id))
            return _task(cur.fetchone()), created

    def task(self, task_id: str) -> Task | None:
        r = self._one(f"SELECT {_TASK_COLS} FROM mob_tasks WHERE task_id = ?", (task_id,))
        return None if r is None else _task(r)

    def tasks(
        self, mobilisation_id: str, community: str, team: str, status: TaskStatus | None = None, after: str | None = None, limit: int = 50
    ) -> list[Task]:
        """A team's tasks in one community, oldest first (keyset page: ``after`` a task id)."""
        sql = f"SELECT {_TASK_COLS} FROM mob_tasks WHERE mobilisation_id = ? AND community = ? AND team = ?"
        args: list[Any] = [mobilisation_id, community, team]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if after is not None:
            sql += " AND task_id > ?"
            args.append(after)
        sql += " ORDER BY task_id LIMIT ?"
        args.append(limit)
        return [_task(r) for r in self._all(sql, tuple(args))]

    def claim(self, mobilisation_id: str, task_id: str, community: str, team: str, member_id: str, at: float) -> tuple[ClaimOutcome, Task | None]:
        """Claim a task of ``community``/``team`` for ``member_id``: one conditional UPDATE
        (only an open task changes hands). Otherwise what stands in the way: the member holds
        it already, another does, or no such task in that team (None: nothing to show)."""
        won, t = self._change(
            "status = 'claimed', claimed_by = ?, claimed_at = ?", (member_id, at), "status = 'open'", (),
            (task_id, mobilisation_id, community, team),
        )
        if t is None:
            return "not_found", None
        if won:
            return "claimed", t
        return ("already_yours" if t.claimed_by == member_id else "taken"), t

    def complete(self, mobilisation_id: str, task_id: str, community: str, team: str, member_id: str, result: str, at: float) -> tuple[CompleteOutcome, Task | None]:
        """Complete a task the member holds: one conditional UPDATE (only its claimer, only
        once). A repeat by the claimer finds it done ("already_done")."""
        won, t = self._change(
            "status = 'done', result = ?, done_at = ?", (result, at), "status = 'claimed' AND claimed_by = ?", (member_id,),
            (task_id, mobilisation_id, community, team),
        )
        if t is None:
            return "not_found", None
        if won:
            return "done", t
        return ("already_done" if t.status == "done" and t.claimed_by == member_id else "not_yours"), t

    def _change(self, sets: str, set_args: tuple[Any, ...], when: str, when_args: tuple[Any, ...], where: tuple[str, str, str, str]) -> tuple[bool, Task | None]:
        """One conditional UPDATE of a task (by id, mobilisation, community and team, and only
        ``when``), then the task as it stands: (whether this update changed it, the task or
        None when no such task is in that team)."""
        key = "task_id = ? AND mobilisation_id = ? AND community = ? AND team = ?"
        with self._tx() as cur:
            cur.execute(self._q(f"UPDATE mob_tasks SET {sets}, version = version + 1 WHERE {key} AND {when}"), (*set_args, *where, *when_args))
            won = cur.rowcount == 1
            cur.execute(self._q(f"SELECT {_TASK_COLS} FROM mob_tasks WHERE {key}"), where)
            row = cur.fetchone()
        return won, None if row is None else _task(row)

    # ------------------------------------------------------------------- views
    def stats(self, mobilisation_id: str) -> dict[str, Any]:
        """Counts of a mobilisation: check-ins by community and by team, tasks by status."""
        by_c = {str(c): int(n) for c, n in self._all(
            "SELECT community, count(*) FROM mob_checkins WHERE mobilisation_id = ? GROUP BY community ORDER BY community", (mobilisation_id,))}
        by_t = {str(t): int(n) for t, n in self._all(
            "SELECT team, count(*) FROM mob_checkins WHERE mobilisation_id = ? GROUP BY team ORDER BY team", (mobilisation_id,))}
        tasks = dict.fromkeys(TASK_STATUSES, 0)
        for s, n in self._all("SELECT status, count(*) FROM mob_tasks WHERE mobilisation_id = ? GROUP BY status", (mobilisation_id,)):
            tasks[s] = int(n)
        return {"checked_in": sum(by_c.values()), "by_community": by_c, "by_team": by_t, "tasks": tasks}

    def nth_checkin_at(self, mobilisation_id: str, n: int) -> float | None:
        """When the ``n``-th member (1-based, in the platform's order of time) checked in; None
        before that many have."""
        if n < 1:
            return None
        r = self._one(
            "SELECT checked_in_at FROM mob_checkins WHERE mobilisation_id = ? ORDER BY checked_in_at, checkin_id LIMIT 1 OFFSET ?",
            (mobilisation_id, n - 1),
        )
        return None if r is None else float(r[0])


class SQLiteMobilisationStore(SQLiteTables, MobilisationStore):
    """The tables in a SQLite file (created there by :class:`~twin.engine.sqlite.SQLiteStore`'s
    migration), one connection per thread; or, for ``:memory:``, one shared in-memory database
    that creates them itself (the service's ``memory:`` mode, for tests)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.events_table = None if path == ":memory:" else "events"
        if path == ":memory:":
            with self._tx() as cur:
                for stmt in MOBILISATION_DDL:
                    cur.execute(stmt)


class PostgresMobilisationStore(PostgresTables, MobilisationStore):
    """The tables in PostgreSQL (created by :class:`~twin.engine.postgres.PostgresStore`'s
    migration), through a small psycopg pool, ``synchronous_commit=on``. A check-in takes a
    transaction-scoped advisory lock on its (mobilisation, community), so the team counts it
    reads are not changed under it."""

    events_table = "engine_events"
    _json_field = "data->>'{0}'"


def open_mobilisation_store(url: str) -> MobilisationStore:
    """The mobilisation store for a database URL as the service names it (``memory:``, a
    SQLite path or ``sqlite:///…``, ``postgresql://…``). The engine's case store must have
    opened the database first (its migration creates the tables)."""
    if url == "memory:":
        return SQLiteMobilisationStore(":memory:")
    path = sqlite_path(url)
    return PostgresMobilisationStore(url) if path is None else SQLiteMobilisationStore(path)
