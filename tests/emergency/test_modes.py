"""The mode controller: legal steps only, typed errors naming from/to, rules with hysteresis,
schedules, the manual API and the suppressed (no-switch) counterfactual."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.modes import (
    EXEMPT,
    LEGAL,
    MODES,
    Advisory,
    IllegalModeChange,
    ModeController,
    Rule,
    RuleMonitor,
    UnknownMode,
    check_schedule,
    mobilised_roles,
    path_to,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_legal_paths_are_one_rung_at_a_time_when_skipping_is_not_allowed() -> None:
    for a, b in itertools.product(MODES, MODES):
        ctl = ModeController(Clock(), allow_skip=False)
        ctl.mode = ctl.shadow = a
        if b in LEGAL[a]:
            ch = ctl.command(b, "test")
            assert (ch.from_mode, ch.to_mode) == (a, b) and ctl.mode == b
        else:
            with pytest.raises(IllegalModeChange) as exc:
                ctl.command(b, "test")
            assert exc.value.from_mode == a and exc.value.to_mode == b
            assert repr(a) in str(exc.value) and repr(b) in str(exc.value)
            assert ctl.mode == a and ctl.history == []


def test_skipping_a_rung_is_allowed_by_default_and_a_policy() -> None:
    ctl = ModeController(Clock())
    assert ctl.allow_skip and ctl.legal_targets() == ["emergency", "extreme"]
    ch = ctl.command("extreme", "red warning: Ⅰ级响应")
    assert (ch.from_mode, ch.to_mode) == ("normal", "extreme") and ctl.mode == "extreme"
    assert ctl.command("normal", "all lifted").to_mode == "normal"
    with pytest.raises(IllegalModeChange):
        ctl.command("normal", "already normal")
    assert path_to("normal", "extreme", allow_skip=True) == ["extreme"]
    assert path_to("normal", "extreme", allow_skip=False) == ["emergency", "extreme"]
    assert path_to("extreme", "normal", allow_skip=False) == ["emergency", "normal"]
    assert path_to("emergency", "emergency", allow_skip=False) == []


def test_normal_to_extreme_is_refused_without_skipping_and_unknown_mode_is_typed() -> None:
    ctl = ModeController(Clock(), allow_skip=False)
    with pytest.raises(IllegalModeChange, match="'normal' → 'extreme'"):
        ctl.command("extreme", "skip a rung")
    with pytest.raises(UnknownMode):
        ctl.command("panic", "no such mode")


def test_exemptions_follow_wuhan_rules_exactly() -> None:
    assert mobilised_roles("normal") == frozenset()
    assert EXEMPT["emergency"] == {"command", "basic_operations", "key_personnel_safety"}
    assert mobilised_roles("emergency") == {"other"}
    assert EXEMPT["extreme"] == {"command", "key_personnel_safety"}
    assert mobilised_roles("extreme") == {"other", "basic_operations"}


def test_history_records_time_cause_source_and_listeners_hear_it() -> None:
    clock = Clock()
    ctl = ModeController(clock)
    heard = []
    ctl.subscribe(heard.append)
    clock.now = 12.5
    ctl.command("emergency", "storm warning", actor="duty chief")
    clock.now = 99.0
    ctl.request("normal", "all clear", "schedule")
    assert [(c.at, c.from_mode, c.to_mode, c.cause, c.source) for c in ctl.history] == [
        (12.5, "normal", "emergency", "storm warning", "manual"),
        (99.0, "emergency", "normal", "all clear", "schedule"),
    ]
    assert heard == ctl.history
    assert ctl.state()["legal_targets"] == ["emergency", "extreme"]


def test_request_refuses_illegal_steps_without_raising() -> None:
    ctl = ModeController(Clock(), allow_skip=False)
    assert ctl.request("extreme", "rule", "rule") is None
    assert ctl.mode == "normal" and ctl.refused and ctl.refused[0]["to_mode"] == "extreme"
    assert ctl.request("normal", "already there", "schedule") is None  # idle step: nothing recorded
    assert len(ctl.refused) == 1


def test_disabled_controller_keeps_normal_and_records_suppressed() -> None:
    ctl = ModeController(Clock(), enabled=False)
    ch = ctl.command("emergency", "would switch")
    assert not ch.applied and ctl.mode == "normal" and ctl.shadow == "emergency"
    assert ctl.history == [] and ctl.suppressed == [ch]
    with pytest.raises(IllegalModeChange):  # legality is judged on the shadow path
        ctl.command("emergency", "twice")


def test_schedule_check() -> None:
    check_schedule([(1, "emergency"), (2, "extreme"), (3, "emergency"), (4, "normal")])
    with pytest.raises(IllegalModeChange):
        check_schedule([(2, "emergency"), (1, "extreme")])  # taken in time order: normal → extreme


def test_rule_needs_duration_and_steps_down_with_hysteresis() -> None:
    clock = Clock()
    ctl = ModeController(clock)
    mon = RuleMonitor(ctl, [Rule("emergency", "x", enter_above=5.0, enter_for=30.0, leave_below=1.0, leave_for=60.0)])

    def feed(t: float, x: float) -> None:
        clock.now = t
        mon.observe(t, {"x": x})

    feed(0, 6)
    feed(20, 6)
    assert ctl.mode == "normal"  # above for 20 < 30 min
    feed(25, 4)  # dips below: the clock restarts
    feed(30, 6)
    feed(50, 6)
    assert ctl.mode == "normal"
    feed(60, 6)
    assert ctl.mode == "emergency" and ctl.history[-1].source == "rule"
    # between the thresholds nothing happens (no flapping)
    for t in range(70, 400, 10):
        feed(t, 3.0)
    assert ctl.mode == "emergency"
    feed(400, 0.5)
    feed(450, 0.5)
    assert ctl.mode == "emergency"
    feed(460, 0.5)
    assert ctl.mode == "normal" and len(ctl.history) == 2


def test_advisory_rule_recommends_once_and_never_switches() -> None:
    """Observed-state rules as an advisory: a decision point for the commander, not a trigger."""
    clock = Clock()
    ctl = ModeController(clock)
    heard: list[Advisory] = []
    ctl.subscribe_advice(heard.append)
    mon = RuleMonitor(
        ctl, [Rule("emergency", "x", enter_above=5.0, enter_for=30.0, leave_below=1.0, leave_for=60.0)], advisory=True
    )
    for t in range(0, 200, 10):
        clock.now = t
        assert mon.observe(t, {"x": 6.0}) == []
    assert ctl.mode == "normal" and ctl.history == []
    assert [(a.at, a.from_mode, a.to_mode) for a in ctl.advisories] == [(30.0, "normal", "emergency")]
    assert heard == ctl.advisories and "x = 6 ≥ 5" in heard[0].cause
    clock.now = 200
    mon.observe(200, {"x": 0.0})  # the condition clears …
    for t in range(210, 260, 10):
        clock.now = t
        mon.observe(t, {"x": 6.0})  # … and returns: a new recommendation
    assert len(ctl.advisories) == 2
    ctl.command("emergency", "the commander follows the advice")
    for t in range(260, 400, 10):
        clock.now = t
        mon.observe(t, {"x": 0.0})
    assert ctl.advisories[-1].to_mode == "normal" and ctl.mode == "emergency"


def test_rule_without_hysteresis_is_rejected() -> None:
    from twin.modes import ModeError

    with pytest.raises(ModeError, match="hysteresis"):
        RuleMonitor(ModeController(Clock()), [Rule("emergency", "x", 1.0, 0.0, 1.0, 0.0)])


@given(st.lists(st.sampled_from(MODES), max_size=40))
def test_any_command_sequence_stays_on_legal_paths(targets: list[str]) -> None:
    ctl = ModeController(Clock(), allow_skip=False)
    for t in targets:
        with contextlib.suppress(IllegalModeChange):
            ctl.command(t, "fuzz")
    mode = "normal"
    for ch in ctl.history:
        assert ch.from_mode == mode and ch.to_mode in LEGAL[mode]
        mode = ch.to_mode
    assert mode == ctl.mode
