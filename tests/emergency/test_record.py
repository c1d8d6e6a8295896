"""The ``[emergency]`` record (twin.emergency.record): what a partition sends back instead of its
live model must carry everything the modes block, the mode series and the call-up table read —
the same figures from the record, pickled and unpickled, as from the live component."""

from __future__ import annotations

import pickle

import pandas as pd

from twin.emergency.component import emergency_of
from twin.emergency.record import record_of
from twin.emergency.summary import call_up_frame, modes_block, series_frame
from twin.run import build_model

from .conftest import scheduled_flood


def test_the_record_gives_the_live_components_modes_block() -> None:
    sc = scheduled_flood(days=4.0, steps=[(74.0, "emergency"), (90.0, "normal")])  # the storm: hours 74–86
    m = build_model(sc, seed=11)
    m.start()
    m.env.run(until=m.horizon)
    comp = emergency_of(m)
    rec = pickle.loads(pickle.dumps(record_of(comp)))
    cases = pd.DataFrame()
    live = modes_block(comp, cases, m.horizon)
    assert live["emergency_cases"]["n"] > 0 and live["mobilised_peak"] > 0 and live["redeployed"]["peak"] > 0
    assert modes_block(rec, cases, m.horizon) == live
    pd.testing.assert_frame_equal(series_frame(rec), series_frame(comp))
    pd.testing.assert_frame_equal(call_up_frame(rec), call_up_frame(comp))
    assert len(pickle.dumps(rec)) < 1_000_000  # small: no model, environment or agents
