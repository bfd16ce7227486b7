"""``python -m dlg_helpers``: see :mod:`dlg_helpers.cli`."""

from .cli import main

raise SystemExit(main())
