"""The load-test report: throughput and latency over time beside backlog over time, the
per-endpoint table, failures by kind, and the operational KPIs against a pure simulation."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from reports.html import Report, Section, Table, figure


def endpoint_label(name: str) -> str:
    """``GET GET /cases/{id}`` → ``GET /cases/{id}``: Locust's type column repeats the method that
    the request's name already starts with."""
    words = name.split(" ", 2)
    return " ".join(words[1:]) if len(words) >= 2 and words[0] == words[1] else name

def _history_figure(result: dict[str, Any]) -> Any:
    """Three panels on one simulated-time axis: throughput, latency, backlog."""
    t0, start, sp = result.get("t0_epoch") or 0.0, result.get("start_min") or 0.0, result.get("speedup") or 1.0

    def sim_day(unix_s: float) -> float:
        return (start + (unix_s - t0) * sp / 60.0) / 1440.0

    hist = [h for h in result.get("history", []) if h.get("t") is not None]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 3.8), sharex=True)
    if hist:
        t = [sim_day(h["t"]) for h in hist]
        ax1.plot(t, [h["rps"] or 0 for h in hist], label="requests/s")
        ax1.plot(t, [h["fps"] or 0 for h in hist], label="failures/s", color="tab:red")
        for q, style in (("p50_ms", "-"), ("p95_ms", "--"), ("p99_ms", ":")):
            ax2.plot(t, [h[q] if h[q] is not None else float("nan") for h in hist], style, label=q.replace("_ms", ""))
    ax1.set(title="Throughput (wall-clock rates)", xlabel="simulated day", ylabel="per wall second")
    ax1.legend(fontsize=8)
    ax2.set(title="Latency (Locust's recent window)", xlabel="simulated day", ylabel="ms")
    ax2.legend(fontsize=8)
    rows = [r for r in result.get("backlog_series") or [] if r.get("wall_s", 0.0) >= 0.0 and r.get("backlog") is not None]
    sim_rows = result.get("sim_backlog_series") or []
    if sim_rows:
        ax3.plot([r[0] / 1440.0 for r in sim_rows], [r[1] for r in sim_rows], label="pure simulation", color="tab:gray")
    if rows:
        ax3.plot([r["sim_min"] / 1440.0 for r in rows], [r["backlog"] for r in rows], label="load test (/kpis)", color="tab:blue")
    ax3.set(title="Backlog (open cases of the window)", xlabel="simulated day", ylabel="cases")
    ax3.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _arrivals_figure(arr: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    w = arr["window_s"]
    x = [i * w for i in range(len(arr["expected"]))]
    ax.bar(x, arr["expected"], width=w * 0.9, align="edge", alpha=0.4, label="scheduled (scenario stream)")
    if x and arr.get("sent"):
        ax.step([*x, x[-1] + w], [*arr["sent"], arr["sent"][-1]], where="post", color="tab:green", label="sent by the shape")
    if x:
        ax.step([*x, x[-1] + w], [*arr["observed"], arr["observed"][-1]], where="post", color="tab:red", label="recorded by the platform")
    ax.set(title="Arrivals per window", xlabel="wall seconds", ylabel="incidents")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


MODE_LEVEL = {"normal": 0, "emergency": 1, "extreme": 2}


def _storm_figure(result: dict[str, Any]) -> Any:
    """The mode timeline above the check-in storm, on one simulated-time axis: check-ins heard
    back per wall second against those the model's arrivals schedule."""
    mob = result["mobilisation"]
    start, sp = result.get("start_min") or 0.0, result.get("speedup") or 1.0
    storm = mob["storm"]
    w = storm["bucket_s"]

    def day(wall_s: float) -> float:
        return (start + wall_s * sp / 60.0) / 1440.0

    end = day(result["duration_s"] + result["drain_s"])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 5.2), sharex=True, gridspec_kw={"height_ratios": [1, 2.4]})
    xs, ys = [day(0.0)], [0]
    for st in mob["mode_steps"]:
        xs.append(day(st["at_s"]))
        ys.append(MODE_LEVEL.get(st["mode"], 0))
    xs.append(end)
    ax1.step(xs, [*ys, ys[-1]], where="post", color="tab:purple", label="scenario (model)")
    posted = [p for p in mob.get("mode_posts", []) if 200 <= p["status"] < 300]
    if posted:
        ax1.plot([day(p["wall_s"]) for p in posted], [MODE_LEVEL.get(p["mode"], 0) for p in posted], "v", color="tab:red",
                 label="POST /mode accepted")
    ax1.set_yticks([0, 1, 2], ["normal", "应下尽下", "全员下沉"])
    ax1.set_ylim(-0.3, 2.3)
    ax1.set_title("Mode (常急转换)")
    ax1.legend(fontsize=8, loc="upper right")
    x = [day(i * w) for i in range(len(storm["checkins"]))]
    ax2.bar(x, storm["scheduled"], width=(day(w) - day(0.0)) * 0.9, align="edge", alpha=0.4, label="scheduled (model's arrivals)")
    ax2.step([*x, day(len(x) * w)], [*storm["checkins"], storm["checkins"][-1] if x else 0], where="post", color="tab:red",
             label="checked in (reply heard)")
    ax2.set(title=f"Check-ins (报到) per wall second (one wall second = {sp / 60.0:g} simulated minutes)", xlabel="simulated day",
            ylabel="check-ins")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _mobilisation_section(result: dict[str, Any]) -> Section:
    mob = result["mobilisation"]
    m50, m90 = mob["minutes_to_50pct"], mob["minutes_to_90pct"]
    paras = [
        f"{mob['called']} members called up (×{mob['members_scale']:g}); the platform counted {mob['checked_in']} check-ins, "
        f"{mob['checked_in_by_load_test']} members heard back; {mob['duplicates']} check-ins counted twice "
        f"({mob['checkin_retries']} resends, {mob['lost_replies']} of them after an injected lost reply). Peak "
        f"{mob['checkin_rps_peak']:g} check-ins a second; check-in p50 {mob['checkin_p50_ms']} ms, p99 {mob['checkin_p99_ms']} ms.",
        "Minutes are simulated minutes from the declaration (wall minutes × the speedup): the platform's from its own "
        "records (GET /mobilisation), the load test's from the replies it heard, the simulation's from members on site.",
    ]
    rows = [
        ["minutes to 50 % checked in", m50["platform"], m50["load_test"], m50["simulation"]],
        ["minutes to 90 % checked in", m90["platform"], m90["load_test"], m90["simulation"]],
    ]
    outcomes = [[f"claim: {k}", v] for k, v in mob["claims"].items()] + [[f"complete: {k}", v] for k, v in mob["completions"].items()]
    outcomes += [[f"check-in HTTP {k}", v] for k, v in mob["checkin_status"].items()]
    return Section(
        "The switchover: mode and the check-in storm",
        paragraphs=paras,
        figures=[figure(_storm_figure(result), "loadtest_storm", "Mode timeline beside the check-ins per wall second")],
        tables=[Table(["", "platform", "load test", "simulation"], rows), Table(["outcome", "count"], outcomes)],
    )


def build_loadtest_report(result: dict[str, Any]) -> Report:
    sysf = result["system"]
    rep = Report(
        title=f"Load test — {result['scenario']} (seed {result['seed']}, {result['speedup']:g}× speedup)",
        meta={
            "command": result["command"],
            "target": f"{result['target']} at {result['host']}",
            "duration": f"{result['duration_s']:g} s of arrivals + {result['drain_s']:g} s drain",
            "simulated days": "{:.3g} – {:.3g} (until {:.3g})".format(*result["simulated_window_days"]),
            "users": f"{result['arrival_users']} arrival users at the peak ({result['device_users']} devices); staff {result['staff_users']}",
        },
    )
    rep.add(
        Section(
            "Throughput, latency and backlog over time",
            paragraphs=[
                f"{sysf['requests']} requests at {sysf['rps'] or 0:.1f} requests/s; p50 {sysf['p50_ms']} ms, p95 {sysf['p95_ms']} ms, "
                f"p99 {sysf['p99_ms']} ms; {sysf['failures']} failures (error rate {sysf['error_rate'] or 0:.4f})."
            ],
            figures=[figure(_history_figure(result), "loadtest_over_time", "Throughput and latency beside backlog")],
        )
    )
    if result.get("mobilisation"):
        rep.add(_mobilisation_section(result))
    eps = result.get("endpoints", {})
    rep.add(
        Section(
            "Per endpoint",
            tables=[
                Table(
                    ["endpoint", "requests", "failures", "rps", "p50 ms", "p95 ms", "p99 ms", "max ms"],
                    [[endpoint_label(k), v["requests"], v["failures"], v["rps"], v["p50_ms"], v["p95_ms"], v["p99_ms"], v["max_ms"]] for k, v in sorted(eps.items())],
                )
            ],
        )
    )
    fk = result.get("failures_by_kind", {})
    rep.add(
        Section(
            "Failures by kind",
            paragraphs=[] if fk else ["No failures."],
            tables=[Table(["kind", "count"], sorted(fk.items()))] if fk else [],
        )
    )
    k = result["kpis"]
    lt, ps = k.get("load_test") or {}, k.get("pure_simulation") or {}
    names = ["cases", "resolved", "rejected", "merged", "backlog_end", "on_time_rate", "hours_to_resolve_p50"]
    rows = [[n, lt.get(n), ps.get(n)] for n in names]
    for lv in ("grid", "community", "street", "district"):
        rows.append([f"closed at {lv}", (lt.get("closed_at_level") or {}).get(lv), (ps.get("closed_at_level") or {}).get(lv)])
    for tier in sorted(set(lt.get("on_time_rate_by_tier") or {}) | set(ps.get("on_time_rate_by_tier") or {})):
        a = (lt.get("on_time_rate_by_tier") or {}).get(tier)
        b = (ps.get("on_time_rate_by_tier") or {}).get(tier)
        rows.append([f"on time, tier {tier}", None if a is None else a["on_time_rate"], None if b is None else b["on_time_rate"]])
    eng = k.get("engine_kpis_endpoint") or {}
    paras = list(result.get("comparison", []))
    if eng:
        paras.append(
            f"The engine's /kpis at the end (wall-clock SLAs): backlog {eng.get('backlog')}, on-time rate {eng.get('on_time_rate')}, "
            f"closure rate {eng.get('closure_rate')}, {eng.get('cases_total')} cases."
        )
    rep.add(Section("Operational KPIs: load test vs pure simulation", paragraphs=paras,
                    tables=[Table(["KPI", "load test (simulated time)", "pure simulation"], rows)]))
    arr = result.get("arrivals")
    if arr:
        rep.add(
            Section(
                "Arrivals: the shape against the scenario",
                paragraphs=[
                    f"{arr['reported_total']} of {arr['scheduled_total']} scheduled incidents reached the platform; "
                    f"{len(arr['duplicates'])} incidents became more than one case (device retries reuse their Idempotency-Key)."
                ],
                figures=[figure(_arrivals_figure(arr), "loadtest_arrivals", "Arrivals per window")],
            )
        )
    th = result.get("thresholds", [])
    if th:
        rep.add(Section("Thresholds", tables=[Table(["--fail-if", "value", "failed"], [[t["threshold"], t["value"], t["failed"]] for t in th])]))
    return rep
