"""Every random stream of the twin, and how it is derived from a seed — in one place.

All streams are numpy ``Generator``\\ s (PCG64) seeded by a :class:`numpy.random.SeedSequence`
whose *entropy* is a seed and whose ``spawn_key`` names the stream. A spawn key makes a child
sequence independent of its siblings without drawing from them, so a stream's bits depend only
on (seed, key): adding a stream, or running streams in another order, never shifts the others.
Three kinds of key are in use:

* **component streams** — key ``(crc32(name),)`` under the run seed (:func:`stream_rng`): the
  model's ``territory``, ``residents``, ``devices``, ``patrol``, ``riders``, ``handling``,
  ``repeat``, ``ids`` (the last five with a per-partition suffix), the emergency component's
  ``emergency.*`` and the drill's actions. The name is the stream's identity.
* **replication seeds** — key ``(k,)`` under the study seed (:func:`replication_seed`): the same
  child ``SeedSequence(study_seed).spawn(n)[k]`` would give, without spawning the first ``k``.
  Replication ``k`` gets the same seed at every point and policy (common random numbers)
  whichever executor or order runs it, and raising ``--reps`` keeps earlier seeds.
* **load-test handling** — key ``(0x10AD,)`` under the run seed (:func:`loadtest_rng`): the
  handling attributes the load test gives the incidents it replays (one stream per window).
  0x10AD is a fixed constant outside the names in use (no component name hashes to it).
"""

from __future__ import annotations

import zlib

import numpy as np

#: The spawn key of the load test's handling stream ("LOAD").
LOADTEST_KEY = 0x10AD


def stream_rng(seed: int, name: str) -> np.random.Generator:
    """A component's own random stream: spawned from the run seed by the component's name,
    so adding a component never shifts the others' streams."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),)))


def loadtest_rng(seed: int) -> np.random.Generator:
    """The stream the load test draws replayed incidents' handling attributes from."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(LOADTEST_KEY,)))


def replication_seed(study_seed: int, rep: int) -> int:
    """The model seed of replication ``rep`` of a study (a non-negative 63-bit integer)."""
    if rep < 0:
        raise ValueError(f"replication index must be ≥ 0, got {rep}")
    if study_seed < 0:
        raise ValueError(f"study seed must be ≥ 0, got {study_seed}")
    child = np.random.SeedSequence(study_seed, spawn_key=(rep,))
    return int(child.generate_state(1, np.uint64)[0]) & ((1 << 63) - 1)


def replication_seeds(study_seed: int, reps: int) -> list[int]:
    """The model seeds of replications ``0 … reps-1``."""
    return [replication_seed(study_seed, k) for k in range(reps)]
