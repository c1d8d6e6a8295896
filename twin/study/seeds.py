"""Common random numbers: replication ``k`` runs with the same seed at every point and policy.

The seeds come from one :class:`numpy.random.SeedSequence` (the study seed) by index:
replication ``k``'s seed is drawn from the child ``SeedSequence(study_seed, spawn_key=(k,))``,
which is exactly what ``SeedSequence(study_seed).spawn(n)[k]`` would give, but without
spawning the first ``k`` children. Because a replication's seed depends only on the study seed
and its index, it is the same whichever executor, worker or order runs it, and raising
``--reps`` later keeps the first replications' seeds (and results) unchanged.
"""

from __future__ import annotations

import numpy as np


def replication_seed(study_seed: int, rep: int) -> int:
    """The model seed of replication ``rep`` (a non-negative 63-bit integer)."""
    if rep < 0:
        raise ValueError(f"replication index must be ≥ 0, got {rep}")
    if study_seed < 0:
        raise ValueError(f"study seed must be ≥ 0, got {study_seed}")
    child = np.random.SeedSequence(study_seed, spawn_key=(rep,))
    return int(child.generate_state(1, np.uint64)[0]) & ((1 << 63) - 1)


def replication_seeds(study_seed: int, reps: int) -> list[int]:
    return [replication_seed(study_seed, k) for k in range(reps)]
