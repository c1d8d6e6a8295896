"""Running a study's replications: skip the finished ones, store each new one as it arrives.

Shared by sweeps and comparisons. A Rich progress bar counts replications (finished ones from an
earlier, interrupted run count as done from the start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from twin.study.executors import Executor
from twin.study.store import StudyDir
from twin.study.tasks import Model, Task


@dataclass(frozen=True, slots=True)
class Execution:
    """What a run of the study did: every summary by (unit, rep), and how many were reused."""

    summaries: dict[tuple[str, int], dict[str, Any]]
    reused: int
    ran: int


def execute(
    store: StudyDir,
    tasks: Sequence[Task],
    model: Model,
    executor: Executor,
    progress: bool = False,
    label: str = "replications",
) -> Execution:
    """Run the tasks not yet finished in ``store``; save each summary atomically as it finishes."""
    done, todo = store.split(tasks)
    reused = len(done)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not progress,
        transient=False,
    ) as bar:
        tid = bar.add_task(f"{label} ({executor.describe()})", total=len(tasks), completed=reused)
        for task, summary in executor.run(model, todo):
            store.save_summary(task, summary)
            done[task.key] = summary
            bar.advance(tid)
    return Execution(done, reused, len(tasks) - reused)
