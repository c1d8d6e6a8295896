"""The study directory: the study's definition, every replication's summary, the tidy tables.

Layout::

    DIR/study.json                      what was asked (kind, model, scenario hashes, units, seed, days, reps)
    DIR/reps/<unit>/r<k>/summary.json   one per replication, written atomically as it finishes
    DIR/results.parquet, results.csv    tidy: one row per replication, one column per KPI
    DIR/stats.parquet, stats.csv        one row per unit and KPI: n, mean, sd, 95 % CI
    DIR/report.html, DIR/figures/*.png

Resuming: opening a directory that already holds the same study (same model and model code,
scenarios, overrides, units, seed and run length — the replication count and the target may differ) keeps
every finished replication and runs only the missing ones. A directory holding a different
study is refused with the first difference named, rather than mixing two studies' results.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from twin.study.errors import StudyError
from twin.study.tasks import Task

#: study.json fields that may change between runs of one study directory.
_MAY_CHANGE = frozenset({"reps", "target", "version", "executor"})


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a torn write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StudyDir:
    """A study directory on disk (see the module docstring for its layout)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def spec_path(self) -> Path:
        return self.root / "study.json"

    def summary_path(self, unit: str, rep: int) -> Path:
        return self.root / "reps" / unit / f"r{rep:04d}" / "summary.json"

    def open(self, spec: Mapping[str, Any]) -> None:
        """Create the directory for ``spec``, or check that an existing one holds the same study."""
        if self.spec_path.exists():
            try:
                old = json.loads(self.spec_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise StudyError(f"{self.spec_path}: not valid JSON ({exc}); remove it or choose another --out") from exc
            for key in sorted(set(old) | set(spec)):
                if key in _MAY_CHANGE:
                    continue
                if old.get(key) != json.loads(json.dumps(spec.get(key))):
                    if key == "model_code":
                        raise StudyError(
                            f"{self.root}: its replications were made by other model code (fingerprint "
                            f"{old.get(key)!r}, now {spec.get(key)!r}); resuming would mix two models' results. "
                            "Choose another --out, or remove the directory to start again"
                        )
                    raise StudyError(
                        f"{self.root}: holds a different study ({key} was {old.get(key)!r}, now {spec.get(key)!r}); "
                        "choose another --out or remove the directory"
                    )
        elif self.root.exists() and any(self.root.iterdir()):
            raise StudyError(f"{self.root}: exists, is not empty and holds no study.json; choose another --out")
        write_json_atomic(self.spec_path, spec)

    def load_summary(self, task: Task) -> dict[str, Any] | None:
        """A finished replication's summary, or None if it has not finished."""
        path = self.summary_path(task.unit, task.rep)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # cannot happen with atomic writes, but a hand-edited file is simply rerun
        if not isinstance(data, dict):
            return None
        if "seed" in data and data["seed"] != task.seed:
            raise StudyError(f"{path}: ran with seed {data['seed']}, but this study gives it seed {task.seed}")
        return data

    def save_summary(self, task: Task, summary: Mapping[str, Any]) -> Path:
        path = self.summary_path(task.unit, task.rep)
        write_json_atomic(path, summary)
        return path

    def split(self, tasks: Iterable[Task]) -> tuple[dict[tuple[str, int], dict[str, Any]], list[Task]]:
        """Finished summaries by task key, and the tasks still to run."""
        done: dict[tuple[str, int], dict[str, Any]] = {}
        todo: list[Task] = []
        for t in tasks:
            s = self.load_summary(t)
            if s is None:
                todo.append(t)
            else:
                done[t.key] = s
        return done, todo

    def write_table(self, name: str, df: pd.DataFrame) -> tuple[Path, Path]:
        """Write ``name.parquet`` and ``name.csv`` (each atomically)."""
        self.root.mkdir(parents=True, exist_ok=True)
        out = []
        for ext in ("parquet", "csv"):
            final = self.root / f"{name}.{ext}"
            tmp = self.root / f".{name}.{ext}.tmp"
            if ext == "parquet":
                df.to_parquet(tmp, index=False)
            else:
                df.to_csv(tmp, index=False)
            os.replace(tmp, final)
            out.append(final)
        return out[0], out[1]
