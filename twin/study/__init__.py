"""Studies: staffing sweeps and policy comparisons over many replications.

A study runs one scenario at many points (a sweep over scenario fields) or several policy
scenarios side by side (a comparison), with common random numbers: replication ``k`` gets the
same seed at every point and under every policy, so differences between points are not
drowned in seed noise. Each replication's ``summary.json`` is written atomically into the
study directory as it finishes, so an interrupted study resumes where it stopped; the tidy
results table, the statistics and the report are rebuilt from those files.

Modules, one job each: :mod:`.spec` (parsing ``--vary`` and ``--target``), :mod:`.seeds`
(common random numbers), :mod:`.kpi` (flattening summaries, which way is better),
:mod:`.tasks` (one replication and the model adapter), :mod:`.executors` (local processes or
Dask), :mod:`.store` (the study directory), :mod:`.stats` (CIs, target search, paired
comparisons), :mod:`.policy` (policy files), :mod:`.sweep` and :mod:`.compare` (the two studies).
"""

from __future__ import annotations

from twin.study.errors import StudyError

__all__ = ["StudyError"]
