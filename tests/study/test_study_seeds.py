"""Common random numbers: replication k's seed depends only on the study seed and k."""

from __future__ import annotations

import numpy as np

from twin.rng import replication_seed, replication_seeds


def test_seed_by_index_equals_spawned_child() -> None:
    children = np.random.SeedSequence(42).spawn(5)
    for k, child in enumerate(children):
        assert replication_seed(42, k) == int(child.generate_state(1, np.uint64)[0]) & ((1 << 63) - 1)


def test_more_reps_keep_earlier_seeds_and_seeds_differ() -> None:
    assert replication_seeds(7, 10)[:4] == replication_seeds(7, 4)
    assert len(set(replication_seeds(7, 200))) == 200
    assert replication_seeds(7, 3) != replication_seeds(8, 3)
