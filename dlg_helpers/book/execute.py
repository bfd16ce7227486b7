"""Execute chapters in place with papermill, as ``make book`` does.

Each chapter runs from its own folder (so ``../results`` is found) with its parameters cell's
defaults. Widget state is not stored: the live explorer is for readers running the notebook, and
its saved state would only bloat the notebook and make the book load widget scripts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["execute_chapter", "main"]


def execute_chapter(path: str | Path) -> None:
    """Run the notebook at ``path`` top to bottom and save it, outputs included, in place."""
    import nbformat
    import papermill

    path = Path(path)
    papermill.execute_notebook(str(path), str(path), cwd=str(path.parent), kernel_name="python3",
                               store_widget_state=False)
    notebook = nbformat.read(path, as_version=4)
    if notebook.metadata.pop("widgets", None) is not None:  # left by an earlier run
        nbformat.write(notebook, path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlg_helpers.book.execute CHAPTER.ipynb ...``."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m dlg_helpers.book.execute CHAPTER.ipynb ...", file=sys.stderr)
        return 2
    for path in paths:
        print(f"papermill: {path}", flush=True)
        execute_chapter(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
