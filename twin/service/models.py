"""Request and response bodies of the HTTP API (pydantic v2; they make the OpenAPI schema).

Request bodies forbid unknown fields, and name the server-owned ones (state, level, due time,
version, reporter …) in a clear 422 when a client tries to set them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Fields only the server sets; a client sending one gets 422 naming it.
SERVER_OWNED: frozenset[str] = frozenset(
    {
        "id", "state", "level", "level_since", "due_at", "version", "reporter", "reported_at", "assignees",
        "accepted_at", "dispatched_at", "started_at", "resolved_at", "verified_at", "closed_at", "evaluated_at",
        "resolved_level", "resolved_by", "satisfaction_recorded", "reopen_count", "reopened_by_evaluation",
        "escalations", "merged_into", "points", "mode", "unit_since", "unit_due_at", "done_by", "replied_at",
        "suspended_at", "suspended_minutes", "suspensions", "extension_pending", "extensions_requested",
        "extensions_approved", "reassignments", "returns", "stints", "late_stints", "warning",
        "warnings_yellow", "warnings_red",
    }
)

#: The four boards (板块) a street centre dispatches to, by the scenario's key for each (Jiangbei's four).
BOARD_NAMES: dict[str, str] = {
    "party_building": "党的建设",
    "economy": "经济发展",
    "livelihood": "民生服务",
    "safety_law": "平安法治",
}
BOARDS: tuple[str, ...] = tuple(BOARD_NAMES.values())


def board_for(key: str, index: int) -> str:
    """The API's board for a scenario's board ``key``; a key outside the four takes the board at
    its position ``index`` among the scenario's boards (round the four)."""
    return BOARD_NAMES.get(key, BOARDS[index % len(BOARDS)])
#: Kinds of assignee a case can be dispatched to: ``kind:name``.
ASSIGNEE_KINDS: tuple[str, ...] = ("worker", "board", "department", "member")

Unit = str
#: A time in a response: ISO 8601 with the service's offset (+08:00), e.g. 2026-12-03T20:15:07.250+08:00.
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def nul_in(value: Any) -> bool:
    """Whether text anywhere in ``value`` holds the NUL character, which PostgreSQL cannot store
    in text (it would fail the write, and the batch around it); refused on every database alike."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(nul_in(v) for v in value)
    if isinstance(value, dict):
        return any(nul_in(k) or nul_in(v) for k, v in value.items())
    return False


NUL_REASON = "the NUL character (U+0000) is not allowed in text"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Both checks run on every request body (the fast lane's included), so each first asks the
    # cheap question — any text with NUL at all, any server-owned name at all — in one C-level pass.

    @model_validator(mode="after")
    def _no_nul(self) -> Any:
        for name, value in self.__dict__.items():  # the fields in their order (extra is forbidden)
            if value.__class__ is str:
                if "\x00" in value:
                    raise ValueError(f"{name}: {NUL_REASON}")
            elif nul_in(value):
                raise ValueError(f"{name}: {NUL_REASON}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _no_server_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and not SERVER_OWNED.isdisjoint(data):
            owned = sorted(k for k in data if k in SERVER_OWNED and k not in cls.model_fields)
            if owned:
                raise ValueError(f"{', '.join(owned)}: set by the server, not by clients")
        return data


class ReportIn(_In):
    """A new case. The reporter is the authenticated principal; state, level and due time follow."""

    category: str = Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")
    tier: Literal["T0", "T1", "T2", "T3", "E"] = "T1"
    grid: Unit = Field(min_length=1, max_length=64)
    community: Unit = Field(min_length=1, max_length=64)
    street: Unit = Field(min_length=1, max_length=64)
    district: Unit = Field(min_length=1, max_length=64)
    source: Literal["app", "hotline", "patrol", "device", "rider"] | None = None
    description: str = Field(default="", max_length=4000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    contact: str | None = Field(default=None, min_length=1, max_length=200, description="stored apart from the case; masked for roles not entitled")


class ReasonIn(_In):
    reason: str = Field(default="", max_length=2000)


class EmptyIn(_In):
    pass


class MergeIn(_In):
    into: str = Field(min_length=1, max_length=64, description="id of the case this one duplicates")


class DispatchIn(_In):
    assignees: list[Annotated[str, Field(pattern=r"^(worker|board|department|member):\S.{0,62}$")]] = Field(
        min_length=1,
        max_length=16,
        description="`kind:name` with kind one of worker, board, department, member; boards: " + ", ".join(BOARDS),
    )

    @model_validator(mode="after")
    def _kinds(self) -> DispatchIn:
        for a in self.assignees:
            kind, sep, name = a.partition(":")
            if not sep or kind not in ASSIGNEE_KINDS or not name.strip():
                raise ValueError(f"assignee {a!r}: expected kind:name with kind one of {list(ASSIGNEE_KINDS)}")
            if kind == "board" and name not in BOARDS:
                raise ValueError(f"assignee {a!r}: unknown board; expected one of {list(BOARDS)}")
        return self


#: The longest extension one request may ask for, in minutes of the matter's clock (a month of
#: working days; a longer wait is a suspension, 挂账) [A].
MAX_EXTENSION_MINUTES = 30 * 1440.0
_REASON = Field(min_length=1, max_length=2000, pattern=r"\S", description="why (required; kept in the audit log)")


class ExtendIn(_In):
    """A handler asks for more time (延期申请); the dispatching level approves or refuses it."""

    minutes: float = Field(gt=0, le=MAX_EXTENSION_MINUTES, description="minutes of the matter's clock (working minutes for working-time matters)")
    reason: str = _REASON


class ApproveExtensionIn(_In):
    minutes: float | None = Field(
        default=None, gt=0, le=MAX_EXTENSION_MINUTES, description="grant less than asked (default: all of the request)"
    )


class SuspendIn(_In):
    """挂账: the case waits on something outside the unit; its clocks stop until resumed."""

    reason: str = _REASON


class ReassignIn(DispatchIn):
    """改派: the dispatcher moves the case to other assignee(s); their own limit starts."""

    reason: str = Field(default="", max_length=2000)


class ReplyIn(_In):
    """答复: an answer to the reporter (for reply matters, what must happen within the limit)."""

    text: str = Field(default="", max_length=2000)


class ResolveIn(_In):
    note: str = Field(default="", max_length=2000)
    volunteer: str | None = Field(default=None, min_length=1, max_length=64)
    service_hours: float | None = Field(default=None, ge=0, le=1000)


class NoteIn(_In):
    note: str = Field(default="", max_length=2000)


class EvaluateIn(_In):
    satisfaction: int = Field(ge=1, le=5)


class ModeIn(_In):
    mode: Literal["normal", "emergency", "extreme"] = Field(description="normal / emergency (应下尽下) / extreme (全员下沉)")
    reason: str = Field(default="", max_length=2000)
    expected_members: int | None = Field(
        default=None, ge=0, le=10_000_000,
        description="members expected to check in (报到) when this switch opens a mobilisation: the base of GET /mobilisation's 50 %/90 % times",
    )


class CaseOut(BaseModel):
    """A case as a caller may see it. Times are ISO 8601 with offset (+08:00); durations are minutes."""

    id: str
    category: str
    tier: str
    grid: str
    community: str
    street: str
    district: str
    source: str
    reporter: str | None
    contact: str | None = Field(description="the reporter's contact; '***' when the caller is not entitled to it")
    reported_at: Time
    due_at: Time
    description: str
    lat: float | None
    lon: float | None
    state: str
    level: int
    level_since: Time
    assignees: list[str]
    version: int
    accepted_at: Time | None
    dispatched_at: Time | None
    started_at: Time | None
    resolved_at: Time | None
    verified_at: Time | None
    closed_at: Time | None
    evaluated_at: Time | None
    resolved_level: int | None
    resolved_by: str | None
    satisfaction: int | None
    reopen_count: int
    reopened_by_evaluation: bool
    escalations: int
    merged_into: str | None
    volunteer: str | None
    service_hours: float | None
    points: float | None
    mode: str
    unit_since: Time | None = Field(description="when the current handling unit received the case")
    unit_due_at: Time | None = Field(description="when the current unit's own limit lapses (null: none runs)")
    done_by: str = Field(description="resolve, or reply for matters done by answering the reporter")
    replied_at: Time | None
    suspended_at: Time | None = Field(description="set while the case is suspended (挂账)")
    suspended_minutes: float
    suspensions: int
    extension_pending: float | None = Field(description="minutes asked for by a pending extension request")
    extensions_requested: int
    extensions_approved: int
    reassignments: int
    returns: int
    stints: int
    late_stints: int
    warning: int = Field(description="0 none, 1 yellow, 2 red: the warning (督办) of the current unit's stint")
    warnings_yellow: int
    warnings_red: int


class CasePage(BaseModel):
    items: list[CaseOut]
    next_after: str | None = Field(description="pass as `after` for the next page; null on the last page")


class EventOut(BaseModel):
    seq: int | None
    case_id: str
    version: int
    action: str
    from_state: str | None
    to_state: str
    at: Time
    actor: str
    mode: str
    data: dict[str, Any]


class NoticeOut(BaseModel):
    kind: str
    key: str
    unit: str
    at: Time
    payload: dict[str, Any]


class NoticePage(BaseModel):
    items: list[NoticeOut]
    next_after: int | None


class ModeOut(BaseModel):
    mode: str
    since: Time | None
    actor: str | None
    reason: str | None
    seq: int


class ErrorOut(BaseModel):
    error: str
    reason: str


class HealthOut(BaseModel):
    status: Literal["ok"]


class CommitterMetricsOut(BaseModel):
    queue_depth: int = Field(description="requests waiting for a committer now")
    queue_depth_max: int = Field(description="the most requests waiting when a batch began")
    batches: int = Field(description="group-commit transactions run")
    statements: int = Field(description="units of work run in them (each a savepoint); statements / batches: mean batch size")
    commit_ms_p50: float | None = Field(description="median COMMIT duration (the flush), last 2,048 batches; null: none yet")
    commit_ms_p99: float | None = Field(description="99th percentile of the same")
    wait_ms_p99: float | None = Field(description="99th percentile of a request's wait for its batch, last 2,048 requests")


class RequestMetricsOut(BaseModel):
    served: int = Field(description="requests this process answered since it started")
    in_flight: int = Field(description="requests being served now")
    refused: int = Field(description="requests answered 503 at the in-flight limit")
    fast_lane: int = Field(description="requests the fast lane answered (the rest went through FastAPI)")


class MetricsOut(BaseModel):
    pid: int = Field(description="the worker process that answered (each answers for itself)")
    cpu_s: float = Field(description="user + system CPU seconds of this process since it started")
    rss_mb: float = Field(description="resident memory now, MiB")
    committer: CommitterMetricsOut
    requests: RequestMetricsOut
    db: Literal["sqlite", "postgresql", "memory"]


class PrincipalOut(BaseModel):
    id: str
    role: str
    scope: str


class SupervisionRunOut(BaseModel):
    new_notices: int
    new_warnings: int = Field(default=0, description="yellow/red warnings (督办) issued on cases")
