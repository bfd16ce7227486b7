"""Where Ray keeps its files: inside the run's folder, reached by a short path.

Ray puts Unix sockets under its temporary folder, and a socket's path may not exceed about 100
bytes, so a run folder deep in a project cannot be Ray's folder directly: Ray is given a short
link to it under the system's temporary folder, removed when the run ends.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ray_folder"]


@contextmanager
def ray_folder(folder: str | Path) -> Iterator[str]:
    """A short path, valid while the context lasts, to ``folder``/``ray`` (created)."""
    target = Path(folder).resolve() / "ray"
    target.mkdir(parents=True, exist_ok=True)
    link = Path(tempfile.gettempdir()) / f"ray-{hashlib.sha256(str(target).encode()).hexdigest()[:8]}"
    if not link.is_symlink():
        link.symlink_to(target, target_is_directory=True)
    try:
        yield str(link)
    finally:
        link.unlink(missing_ok=True)
