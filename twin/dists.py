"""Shared pydantic building blocks of scenario files: bounded numbers, the frozen strict base,
and the duration distributions that scenarios and their emergency sections sample from."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNeg = Annotated[float, Field(ge=0.0)]
Pos = Annotated[float, Field(gt=0.0)]


class Frozen(BaseModel):
    """Strict and immutable: unknown keys are errors, values never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Dist(Frozen):
    """A positive duration distribution in minutes (or hours where the field says so).

    ``exponential`` (mean), ``lognormal`` / ``gamma`` (mean, cv), ``fixed`` (mean) or
    ``empirical`` (``quantiles`` 0…1 with matching ``values``; sampled by linear
    interpolation of the inverse CDF, as the NYC days-to-close quantiles are given).
    """

    dist: Literal["exponential", "lognormal", "gamma", "empirical", "fixed"]
    mean: Pos | None = None
    cv: Pos | None = None
    quantiles: list[Share] | None = None
    values: list[NonNeg] | None = None

    @model_validator(mode="after")
    def _complete(self) -> Dist:
        if self.dist == "empirical":
            q, v = self.quantiles, self.values
            if not q or not v or len(q) != len(v) or len(q) < 2:
                raise ValueError("empirical: expected quantiles and values of equal length ≥ 2")
            if q[0] != 0.0 or q[-1] != 1.0 or any(b <= a for a, b in zip(q, q[1:], strict=False)):
                raise ValueError("empirical: expected quantiles rising strictly from 0 to 1")
            if any(b < a for a, b in zip(v, v[1:], strict=False)):
                raise ValueError("empirical: expected values that never decrease")
        else:
            if self.mean is None:
                raise ValueError(f"{self.dist}: expected a mean > 0")
            if self.dist in ("lognormal", "gamma") and self.cv is None:
                raise ValueError(f"{self.dist}: expected a cv > 0 (coefficient of variation)")
        return self

    @property
    def expected(self) -> float:
        """The distribution's mean."""
        if self.dist == "empirical":
            q = np.asarray(self.quantiles)
            v = np.asarray(self.values)
            return float(np.sum(np.diff(q) * (v[1:] + v[:-1]) / 2.0))
        assert self.mean is not None
        return self.mean

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (float64)."""
        if self.dist == "exponential":
            return rng.exponential(self.mean, n)
        if self.dist == "fixed":
            return np.full(n, float(self.mean))  # type: ignore[arg-type]
        if self.dist == "lognormal":
            assert self.mean is not None and self.cv is not None
            s2 = math.log1p(self.cv**2)
            return rng.lognormal(math.log(self.mean) - s2 / 2.0, math.sqrt(s2), n)
        if self.dist == "gamma":
            assert self.mean is not None and self.cv is not None
            k = 1.0 / self.cv**2
            return rng.gamma(k, self.mean / k, n)
        return np.interp(rng.random(n), np.asarray(self.quantiles), np.asarray(self.values))
