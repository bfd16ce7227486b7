"""A measurement's table, written a row at a time so that an interrupted run resumes.

Each finished unit of work is appended at once to ``NAME.partial.jsonl`` beside the table; a run
started again with the same command reads those rows, skips their work (:meth:`ResumableTable.has`)
and goes on; at the end the rows are gathered into the one Parquet table and the partial file is
removed. A run killed in the middle of writing a row loses that row only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ResumableTable", "read_table", "plan_main"]


class ResumableTable:
    """The rows of the table at ``table`` (a ``.parquet`` path), kept as they are made."""

    def __init__(self, table: str | Path) -> None:
        self.table = Path(table)
        self.partial = self.table.with_name(self.table.stem + ".partial.jsonl")
        self.rows: list[dict[str, Any]] = []
        if self.partial.is_file():
            lines = self.partial.read_text().splitlines()
            try:
                self.rows = [json.loads(line) for line in lines]
            except json.JSONDecodeError:  # a run killed mid-line: that unit is done again
                self.rows = [json.loads(line) for line in lines[:-1]]
                self.partial.write_text("".join(line + "\n" for line in lines[:-1]))

    def has(self, **key: Any) -> bool:
        """Whether a row with these values is already written."""
        return any(all(row.get(k) == v for k, v in key.items()) for row in self.rows)

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write ``rows`` (JSON-able values) at once, then keep them."""
        rows = list(rows)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        with self.partial.open("a") as file:
            file.writelines(json.dumps(row) + "\n" for row in rows)
        self.rows += rows

    def finish(self, columns: Mapping[str, Callable[[Any], Any]] | None = None) -> Path:
        """Gather the rows into the Parquet table, each named column passed through its function
        first (a value JSON could not hold, decoded), and remove the partial file."""
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        for name, convert in (columns or {}).items():
            if name in frame:
                frame[name] = [convert(value) for value in frame[name]]
        frame.to_parquet(self.table, index=False)
        self.partial.unlink(missing_ok=True)
        return self.table


def read_table(folder: str | Path, name: str, command: str) -> Any:
    """The stored table ``name`` of a plan as a pandas DataFrame.

    Raises:
        FileNotFoundError: naming the ``command`` (``python -m ...``) that makes it.
    """
    import pandas as pd

    table = Path(folder) / f"{name}.parquet"
    if not table.is_file():
        raise FileNotFoundError(f"no table at {table}; make it with {command} {name}")
    return pd.read_parquet(table)


def plan_main(command: str, description: str, measurements: Mapping[str, Callable[..., Path]],
              folder: Path, argv: Sequence[str] | None = None) -> int:
    """The command line of a plan of measurements: ``command NAME ... [--folder] [--threads]``
    computes each named measurement into ``folder``, its progress on stderr."""
    import torch

    parser = argparse.ArgumentParser(prog=command, description=description)
    parser.add_argument("names", nargs="+", choices=list(measurements))
    parser.add_argument("--folder", type=Path, default=folder)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.names:
        path = measurements[name](args.folder, log=lambda line: print(line, file=sys.stderr,
                                                                       flush=True))
        print(f"{name} -> {path}")
    return 0
