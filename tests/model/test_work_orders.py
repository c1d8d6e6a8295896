"""12345 work orders top-down: accepted by the centre, sent down with a limit in
working days, the caller contacted, the summary keeping them apart from bottom-up cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.model.cached_runs import street_run
from twin.model.model import sla_policy
from twin.run import RunResult
from twin.scenario import load_scenario

DAYS = 8


def _run(*overrides: str) -> RunResult:
    return street_run(3, DAYS, *overrides)


def _orders(r: RunResult) -> pd.DataFrame:
    c = r.cases
    return c[c["tier"].astype(str).str.startswith("12345-")]


def test_hotline_contacts_become_work_orders_with_working_day_limits() -> None:
    r = _run("property_management.managed_share=0")  # calls about a compound's common parts go to its property desk
    c, o = r.cases, _orders(r)
    assert set(o["source"].astype(str)) == {"hotline"}
    assert set(o["tier"].astype(str)) == {"12345-help", "12345-complaint"}
    # every non-emergency hotline case is an order (emergencies still go to the on-call worker;
    # repeat calls are merged into the case they are about)
    hot = c[(c["source"].astype(str) == "hotline") & (c["state"].astype(str) != "merged")]
    assert set(hot["tier"].astype(str)) - {"T0"} == set(o["tier"].astype(str))
    # the limit: 3 / 13 working days of the platform's calendar from when the centre sent it down
    sc = load_scenario()
    sla = sla_policy(sc, DAYS)
    cal = sla.calendar
    assert cal is not None
    ep = sc.start_epoch_minutes
    for kind, days in (("12345-help", 3), ("12345-complaint", 13)):
        plain = (o["suspensions"] == 0) & (o["extensions_approved"] == 0)  # 挂账 and 延期 move the due time
        sel = o[(o["tier"].astype(str) == kind) & plain].head(20)
        assert len(sel) > 5
        for rep, due in zip(sel["reported_at"], sel["due_at"], strict=True):
            assert abs(cal.worked_between(ep + rep, ep + due) - days * cal.per_day) < 1e-6


def test_the_centre_accepts_and_the_unit_contacts_the_caller_before_resolving() -> None:
    r = _run()
    ev = r.events
    assert ev is not None
    ids = set(_orders(r)["case_id"])
    e = ev[ev["case_id"].isin(ids)]
    accepts = e[e["action"] == "accept"]
    assert set(accepts["actor"]) == {"12345"}
    first = e.sort_values("seq").groupby("case_id")
    for cid, g in list(first)[:50]:
        acts = list(g["action"])
        if "resolve" in acts:
            assert "reply" in acts and acts.index("reply") < acts.index("resolve"), (cid, acts)
            assert g.loc[g["action"] == "reply", "actor"].iloc[0] != "12345"  # the unit holding it calls


def test_orders_arrive_round_the_clock_not_in_intake_windows() -> None:
    """The centre answers 7×24 and sends orders on at once; bottom-up resident reports wait for
    the grid's intake windows. Off, hotline contacts enter like any other report."""
    def outside_windows(reported: pd.Series) -> int:
        h = (reported.to_numpy() % 1440.0) / 60.0
        inside = ((h >= 8.5) & (h <= 11.0)) | ((h >= 14.0) & (h <= 16.5))
        return int((~inside).sum())

    assert outside_windows(_orders(_run())["reported_at"]) > 50
    off = _run("hotline.work_orders=false", "property_management.managed_share=0")
    assert _orders(off).empty
    oc = off.cases
    hot = oc[(oc["source"].astype(str) == "hotline") & (oc["tier"].astype(str) != "T0") & (oc["state"].astype(str) != "merged")]
    assert len(hot) > 100 and outside_windows(hot["reported_at"]) == 0
    assert off.summary["work_orders_12345"]["orders"] == 0


def test_summary_keeps_bottom_up_cases_and_orders_apart() -> None:
    s = _run().summary
    b, o = s["bottom_up"], s["work_orders_12345"]
    assert b["cases"] > 0 and o["orders"] > 0
    assert o["orders"] == int((_orders(_run())["reported_at"] >= 3 * 1440.0).sum())
    assert 0.0 < o["on_time_rate"] <= 1.0 and 0.0 < b["on_time_rate"] <= 1.0
    assert o["contacted_in_time_rate"] == 1.0  # a grid worker takes up an order the same day
    assert set(o["by_kind"]) == {"help", "complaint"}
    assert sum(k["orders"] for k in o["by_kind"].values()) == o["orders"]
    assert abs(o["per_1000_per_day"] + b["per_1000_per_day"] - s["volume_per_1000_per_day"]["registered"]) < 1e-5


def test_a_short_contact_limit_is_missed_and_a_short_order_limit_makes_orders_late() -> None:
    s = _run("hotline.contact_working_days=0.01", "hotline.order_types.help.working_days=0.05",
             "hotline.order_types.complaint.working_days=0.05").summary
    o = s["work_orders_12345"]
    assert o["contacted_in_time_rate"] < 0.99  # those queued behind other work miss 4 working minutes
    assert o["on_time_rate"] < 0.9
    assert np.isfinite(s["bottom_up"]["on_time_rate"])


def test_the_run_report_shows_orders_and_property_apart() -> None:
    from reports.run_report import _bottom_up_and_orders, _property_section

    s = _run().summary
    orders = _bottom_up_and_orders(s)
    assert orders is not None
    assert orders.tables[0].rows[0][1:] == (s["bottom_up"]["cases"], s["work_orders_12345"]["orders"])
    prop = _property_section(s)
    assert prop is not None and prop.tables[0].rows[0][1] == s["property"]["received"]
    assert _property_section(_run("property_management.managed_share=0").summary) is None
