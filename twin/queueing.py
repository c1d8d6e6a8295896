"""Analytic queueing results the model is checked against and planners compare with.

Erlang C for an M/M/c queue, its waiting-time distribution and staffing rule, and the
sojourn time of an open Jackson tandem. Rates are per minute; times are in minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c with offered load ``a`` (Erlangs), by the stable recursion."""
    if c < 0 or a < 0:
        raise ValueError(f"need c ≥ 0 and a ≥ 0, got c={c}, a={a}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a = λ/μ`` (requires a < c)."""
    if c <= 0:
        raise ValueError(f"need at least one server, got c={c}")
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


@dataclass(frozen=True, slots=True)
class MMc:
    """Steady-state figures of an M/M/c queue."""

    lam: float
    mu: float
    c: int

    def __post_init__(self) -> None:
        if self.lam < 0 or self.mu <= 0 or self.c < 1:
            raise ValueError(f"need λ ≥ 0, μ > 0, c ≥ 1; got λ={self.lam}, μ={self.mu}, c={self.c}")

    @property
    def load(self) -> float:
        """Offered load a = λ/μ (Erlangs)."""
        return self.lam / self.mu

    @property
    def utilisation(self) -> float:
        return self.load / self.c

    @property
    def stable(self) -> bool:
        return self.load < self.c

    @property
    def p_wait(self) -> float:
        return erlang_c(self.c, self.load)

    @property
    def mean_wait(self) -> float:
        """Wq: mean time in queue before service."""
        if not self.stable:
            return math.inf
        return self.p_wait / (self.c * self.mu - self.lam)

    @property
    def mean_sojourn(self) -> float:
        """W = Wq + 1/μ."""
        return self.mean_wait + 1.0 / self.mu

    @property
    def mean_queue(self) -> float:
        """Lq = λ Wq (Little's law)."""
        return self.lam * self.mean_wait

    def service_level(self, t: float) -> float:
        """P(wait ≤ t)."""
        if not self.stable:
            return 0.0
        return 1.0 - self.p_wait * math.exp(-(self.c * self.mu - self.lam) * t)


def staffing_for_service_level(lam: float, mu: float, t: float, target: float, c_max: int = 100_000) -> int:
    """The fewest servers c with P(wait ≤ t) ≥ target (Erlang C staffing)."""
    if not 0 < target < 1:
        raise ValueError(f"target must be in (0, 1), got {target}")
    c = max(1, math.floor(lam / mu) + 1)
    while c <= c_max:
        if MMc(lam, mu, c).service_level(t) >= target:
            return c
        c += 1
    raise ValueError(f"no staffing up to {c_max} servers meets the target")


def staffing_for_mean_wait(lam: float, mu: float, max_wait: float, c_max: int = 100_000) -> int:
    """The fewest servers c whose mean wait is at most ``max_wait``."""
    c = max(1, math.floor(lam / mu) + 1)
    while c <= c_max:
        if MMc(lam, mu, c).mean_wait <= max_wait:
            return c
        c += 1
    raise ValueError(f"no staffing up to {c_max} servers meets the mean wait {max_wait}")


def jackson_tandem_sojourn(lam: float, stages: Sequence[tuple[float, int]]) -> float:
    """Mean time through a tandem of M/M/c stations ``(μ, c)`` fed by Poisson(λ) (Jackson)."""
    return sum(MMc(lam, mu, c).mean_sojourn for mu, c in stages)
