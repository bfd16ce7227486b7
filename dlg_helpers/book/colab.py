"""The first code cell of every chapter, which makes it run in Google Colab.

In Colab the cell clones the course repository (its helpers and its stored runs), installs
``dlg_helpers`` from it without touching Colab's own torch, and moves into its ``chapters/``
folder, so that a chapter finds everything where it does on a laptop. Anywhere else it does
nothing. The book hides it.

The repository's address is one setting, ``repository.url`` (and ``branch``) in ``_config.yml``,
which also drives the book's launch buttons. ``python -m dlg_helpers.book.colab`` writes the cell
into every chapter from it (``make book`` runs it first), and the address (with the book's GitHub
Pages address derived from it) into the README and ``CITATION.cff``; ``--check`` reports files
that are out of date, so that a fork changes its address in one place.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["SETUP_TAG", "repository", "pages_url", "setup_cell_source", "sync_chapters",
           "sync_addresses", "ADDRESS_FILES"]


SETUP_TAG = "colab-setup"


_CLONE = "/content/course"


def repository(config: str | Path) -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, as ``_config.yml`` sets them.

    Raises:
        ValueError: when the configuration has no ``repository.url``.
    """
    import yaml

    settings = yaml.safe_load(Path(config).read_text()) or {}
    repo = settings.get("repository") or {}
    if not repo.get("url"):
        raise ValueError(f"{config} sets no repository.url; add the course's repository address")
    return str(repo["url"]).rstrip("/"), str(repo.get("branch") or "main")


def pages_url(url: str) -> str:
    """The GitHub Pages address at which the publishing workflow deploys the book of the
    repository at ``url`` (``https://github.com/owner/name`` → ``https://owner.github.io/name/``).

    Raises:
        ValueError: for an address that is not a GitHub repository's.
    """
    found = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", url)
    if not found:
        raise ValueError(f"{url} is not a GitHub repository address (https://github.com/OWNER/NAME)")
    return f"https://{found[1].lower()}.github.io/{found[2]}/"


ADDRESS_FILES = ("README.md", "CITATION.cff")
"""The files, beside the chapters, that quote the repository's and the book's addresses."""

_REPOSITORY = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+?(?=[\s\"')>\]]|$)")
_PAGES = re.compile(r"https://[\w.-]+\.github\.io/[\w.-]+/")


def sync_addresses(root: str | Path, config: str | Path, check: bool = False) -> list[Path]:
    """Write the repository's address and its Pages address into :data:`ADDRESS_FILES` under
    ``root``. Returns the files that were (with ``check``: would be) changed."""
    url, _ = repository(config)
    changed = []
    for name in ADDRESS_FILES:
        path = Path(root) / name
        if not path.is_file():
            continue
        text = path.read_text()
        new = _PAGES.sub(pages_url(url), _REPOSITORY.sub(url, text))
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new)
    return changed


def setup_cell_source(url: str, branch: str) -> str:
    """The setup cell's code for the repository at ``url`` (branch ``branch``)."""
    return (
        "# In Google Colab only: fetch the course (helpers and stored runs), install its helpers\n"
        "# without touching Colab's own torch, and run from its chapters/ folder.\n"
        "import os, subprocess, sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    if not os.path.isdir("{_CLONE}"):\n'
        f'        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{branch}",\n'
        f'                        "{url}", "{_CLONE}"], check=True)\n'
        '        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",\n'
        f'                        "{_CLONE}"], check=True)\n'
        f'    os.chdir("{_CLONE}/chapters")'
    )


def sync_chapters(chapters: Sequence[Path], config: str | Path, check: bool = False) -> list[Path]:
    """Make the first code cell of each chapter the setup cell for ``config``'s repository.

    Returns the chapters that were (or, with ``check``, would be) changed; ``check`` changes
    nothing.
    """
    import nbformat

    source = setup_cell_source(*repository(config))
    changed = []
    for path in chapters:
        notebook = nbformat.read(path, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        first = code[0] if code else None
        if first is not None and SETUP_TAG in first.metadata.get("tags", []):
            if first.source == source:
                continue
            first.source = source
        else:
            cell = nbformat.v4.new_code_cell(source)
            cell.metadata["tags"] = ["remove-cell", SETUP_TAG]
            position = notebook.cells.index(first) if first is not None else len(notebook.cells)
            notebook.cells.insert(position, cell)
        changed.append(path)
        if not check:
            nbformat.write(notebook, path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlg_helpers.book.colab [--check] [--config _config.yml] [--chapters
    chapters]``."""
    parser = argparse.ArgumentParser(prog="python -m dlg_helpers.book.colab",
                                     description="Write the Colab setup cell into every chapter and the "
                                                 "repository's address into the README and "
                                                 "CITATION.cff.")
    parser.add_argument("--config", type=Path, default=Path("_config.yml"))
    parser.add_argument("--chapters", type=Path, default=Path("chapters"))
    parser.add_argument("--check", action="store_true",
                        help="only list chapters whose cell is missing or out of date")
    args = parser.parse_args(argv)
    try:
        changed = sync_chapters(sorted(args.chapters.glob("*.ipynb")), args.config, args.check)
        changed += sync_addresses(args.config.parent, args.config, args.check)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"{'out of date' if args.check else 'updated'}: {path}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
