"""The capacity knee's search and saturation verdict on synthetic step results: no server, no
clock — the same inputs give the same answers on any machine."""

from __future__ import annotations

import pytest

from twin.loadtest.knee import KneeSearch, Limits, Step, judge, saturation


def platform(capacity: float, base_ms: float = 10.0) -> callable:
    """A synthetic platform: latency rises like a queue's toward ``capacity`` and breaks past it."""

    def step(rate: float, server: dict | None = None) -> Step:
        if rate < capacity:
            p99 = base_ms / (1.0 - rate / capacity)
            return Step(rate, 1000, rate, base_ms, p99, 0.0, server or {})
        return Step(rate, 1000, capacity, base_ms * 10, 5000.0, 0.2, server or {})

    return step


def search_all(s: KneeSearch, plat: callable) -> list[float]:
    tried = []
    while (r := s.next_rate()) is not None:
        tried.append(r)
        s.record(plat(r))
    return tried


def test_ramps_then_bisects_to_the_knee_within_precision() -> None:
    lim = Limits(p99_ms=200.0, error_rate=0.01)
    s = KneeSearch(50.0, 2.0, 10_000.0, lim, precision=0.05)
    tried = search_all(s, platform(730.0))
    assert tried[:5] == [50.0, 100.0, 200.0, 400.0, 800.0]  # the ramp, up to the first broken step
    # p99 = 10 / (1 - r/730) exceeds 200 ms from r = 693.5: the knee lies in [lo, hi) around it
    assert s.knee is not None and s.hi is not None
    assert s.knee <= 693.5 < s.hi and s.hi / s.knee <= 1.05
    assert all(s.knee < r <= 800.0 or r <= s.knee for r in tried[5:])  # bisection stays in the bracket
    assert not s.reached_max and s.phase == "done"
    curve = s.curve()
    assert [r["rate"] for r in curve] == sorted(tried) and curve[-1]["broke"]


def test_the_same_results_give_the_same_search() -> None:
    a = KneeSearch(30.0, 1.5, 5000.0, Limits(100.0, 0.01))
    b = KneeSearch(30.0, 1.5, 5000.0, Limits(100.0, 0.01))
    assert search_all(a, platform(321.0)) == search_all(b, platform(321.0))


def test_a_platform_above_the_highest_rate_reports_that_rate() -> None:
    s = KneeSearch(100.0, 2.0, 300.0, Limits())
    tried = search_all(s, platform(10_000.0))
    assert tried == [100.0, 200.0, 300.0] and s.knee == 300.0 and s.reached_max


def test_when_the_first_step_breaks_it_steps_down() -> None:
    s = KneeSearch(400.0, 2.0, 1000.0, Limits(p99_ms=200.0))
    tried = search_all(s, platform(150.0))
    assert tried[:3] == [400.0, 200.0, 100.0]
    assert s.knee is not None and s.knee < 150.0 and s.hi is not None and s.hi / s.knee <= 1.1


def test_nothing_sustained_gives_no_knee() -> None:
    s = KneeSearch(100.0, 2.0, 1000.0, Limits(p99_ms=200.0), min_rate=25.0)
    tried = search_all(s, platform(1.0))
    assert tried == [100.0, 50.0, 25.0] and s.knee is None and s.done


def test_judge_names_every_broken_limit() -> None:
    lim = Limits(p99_ms=100.0, error_rate=0.01, min_throughput=0.9)
    assert judge(Step(100.0, 500, 99.0, 5.0, 50.0, 0.0), lim) == []
    why = judge(Step(100.0, 500, 50.0, 5.0, 150.0, 0.05), lim)
    assert len(why) == 3 and "p99" in why[0] and "error rate" in why[1] and "answered" in why[2]
    assert judge(Step(100.0, 0, 0.0, None, None, 0.0), lim) == ["no request answered"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 0.0}, "--start-rps"),
        ({"factor": 1.0}, "--factor"),
        ({"max_rate": 10.0}, "--max-rps"),
        ({"precision": 0.0}, "--precision"),
    ],
)
def test_bad_search_settings_name_the_option(kwargs: dict, message: str) -> None:
    args = {"start": 50.0, "factor": 2.0, "max_rate": 1000.0, "limits": Limits(), "precision": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        KneeSearch(**args)
    with pytest.raises(ValueError, match="--p99-ms"):
        Limits(p99_ms=0.0)
    with pytest.raises(ValueError, match="--error-rate"):
        Limits(error_rate=1.5)


def row(rate: float, **server: float) -> dict:
    return {"rate": rate, "server": server}


def test_saturation_names_the_resource_that_crossed_at_the_lowest_rate() -> None:
    curve = [
        row(100, cpu_util=0.2, queue_depth_max=1, commit_ms_p99=4, client_cpu_util=0.1, machine_busy=0.99),
        row(200, cpu_util=0.4, queue_depth_max=3, commit_ms_p99=5, client_cpu_util=0.2, machine_busy=1.0),
        row(400, cpu_util=0.6, queue_depth_max=12, commit_ms_p99=9, client_cpu_util=0.3, machine_busy=1.0),
        row(800, cpu_util=0.95, queue_depth_max=40, commit_ms_p99=20, client_cpu_util=0.5, machine_busy=1.0),
    ]
    v = saturation(curve)
    # the committer's queue (12 ≥ max(8, 4 × 1)) at 400, before the CPU (0.95 ≥ 0.85) at 800;
    # the machine was busy all along but is named only when no platform resource crossed
    assert v["first"] == "committer_queue" and v["at_rate"] == 400
    assert v["indicators"]["server_cpu"][-1] >= 1.0 and v["indicators"]["machine"][0] >= 1.0
    # shuffled input, same verdict
    assert saturation(list(reversed(curve)))["first"] == "committer_queue"


def test_saturation_ties_go_to_the_resource_furthest_past_its_limit() -> None:
    curve = [row(100, cpu_util=0.1, queue_depth_max=1, commit_ms_p99=2), row(200, cpu_util=0.9, queue_depth_max=40, commit_ms_p99=2)]
    assert saturation(curve)["first"] == "committer_queue"  # 40 / 8 = 5 past, CPU 0.9 / 0.85 = 1.06


def test_saturation_falls_back_on_the_machine_and_says_when_nothing_crossed() -> None:
    busy = [row(100, cpu_util=0.1, machine_busy=0.97, other_cores=1.2), row(200, cpu_util=0.2, machine_busy=0.99, other_cores=1.1)]
    v = saturation(busy)
    assert v["first"] == "machine" and v["at_rate"] == 100 and "noisy" in v["explanation"]
    calm = saturation([row(100, cpu_util=0.1, machine_busy=0.3), row(200, cpu_util=0.2, machine_busy=0.5)])
    assert calm["first"] is None and "no measured resource" in calm["explanation"]
    assert saturation([])["first"] is None


def test_the_cli_offers_the_mixes_the_runner_knows() -> None:
    from twin.cli.capacity import MIXES as CLI_MIXES
    from twin.loadtest.capacity import MIXES

    assert CLI_MIXES == MIXES
