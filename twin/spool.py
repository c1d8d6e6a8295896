"""Tables written piece by piece: a partition appends Parquet row groups as its cases settle,
and whoever needs the table reads the file back as the in-memory table it replaces.

Label columns (pandas categoricals) are written as plain strings, because every piece has its
own set of labels; reading back turns them into categoricals with sorted categories again —
exactly what building the table in one go gives (``pd.Categorical(values)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


class TableSpool:
    """Appends DataFrames with the same columns to one Parquet file, one row group each."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self.labels: list[str] = []
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def append(self, df: pd.DataFrame) -> None:
        """Append a DataFrame's rows (its categorical columns written as their values)."""
        if df.empty:
            return
        if self._writer is None:
            self.labels = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
        plain = df.astype({c: object for c in self.labels}) if self.labels else df
        self._write(pa.Table.from_pandas(plain, preserve_index=False, schema=self._schema))

    def append_columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> None:
        """Append rows given as columns (NumPy arrays, or lists of plain values such as label
        strings) — the file :meth:`append` writes for the same table, without building the
        DataFrame and its categoricals only to write their values (measured: most of a
        partition's daily write-out of settled cases went there)."""
        if not columns or not len(next(iter(columns.values()))):
            return
        self._write(pa.table(dict(columns), schema=self._schema))

    def _write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._schema = table.schema.remove_metadata()
            table = table.replace_schema_metadata(None)
            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(table.replace_schema_metadata(None))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_spooled(path: Path, labels: Sequence[str], sort_by: str | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A spooled table as a DataFrame: ``labels`` back to categoricals (sorted categories),
    rows sorted by ``sort_by`` (ties keep file order)."""
    df = pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()
    for c in labels:
        if c in df:
            df[c] = pd.Categorical(df[c].to_numpy())
    if sort_by is not None:
        df = df.sort_values(sort_by, kind="stable", ignore_index=True)
    return df
