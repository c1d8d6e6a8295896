"""A partition that writes its settled cases to Parquet as it goes (and forgets them) gives
the very tables of one that keeps every case in memory — and it does forget them."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from tests.city.small import small_district
from twin.run import IndependentPartition, PartitionRun, spooled_cases


def _run(tmp: Path | None) -> tuple[PartitionRun, pd.DataFrame, int]:
    sc = small_district("run.partitions=1")
    run = PartitionRun(partial(IndependentPartition, sc, None, None, False, True, 0), True, 0, None if tmp is None else str(tmp))
    peak_in_memory = 0
    for day in range(1, 7):
        run.advance(day * 1440.0, [])
        peak_in_memory = max(peak_in_memory, run.sim.model.store.count())
    res = run.finish()
    return run, spooled_cases(res), peak_in_memory


def test_spooled_cases_equal_in_memory(tmp_path: Path) -> None:
    _, kept, kept_peak = _run(None)
    spooled_run, spooled, spooled_peak = _run(tmp_path)
    assert len(kept) > 200
    pd.testing.assert_frame_equal(kept, spooled)
    assert spooled_run.spool is not None and spooled_run.spool.path.is_file()
    # the settled cases left the store: memory holds open and recent cases only
    assert spooled_peak < kept_peak
    assert spooled_run.sim.model.store.count() < len(kept)
