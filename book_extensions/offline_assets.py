"""Sphinx extension: every page loads each script once and nothing from the internet it can do without.

Jupyter Book 1 registers some extensions' scripts twice (sphinx-thebe's configuration then
declares ``const THEBE_JS_URL`` twice, a JavaScript error on every page); this keeps the first
copy of each, and it gives a first visit a colour mode. The book is read offline, so MathJax comes from the ``sphinx-mathjax-offline``
package and the widget scripts, which only the hidden explorer cells would need, are not loaded.
"""

from __future__ import annotations

from typing import Any


def _script_key(script: Any) -> tuple[str, str]:
    attributes = getattr(script, "attributes", {}) or {}
    # An inline script's filename is None or "" depending on who added it.
    return str(getattr(script, "filename", script) or ""), str(attributes.get("body", ""))


def _load_each_script_once(app: Any, pagename: str, templatename: str, context: dict,
                           doctree: Any) -> None:
    scripts = context.get("script_files", [])
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: handlers after this one add to the same list


# pydata-sphinx-theme reads the colour mode from localStorage, which is empty on a first visit,
# and logs an error before falling back to "auto"; start every first visit at "auto" instead.
_DEFAULT_MODE = ('for (const key of ["mode", "theme"]) { '
                 'if (!localStorage.getItem(key)) { localStorage.setItem(key, "auto"); } '
                 'document.documentElement.dataset[key] ||= localStorage.getItem(key); }')


def setup(app: Any) -> dict[str, Any]:
    # Sphinx stops at the first handler of html-page-context that returns a value, so this one
    # runs first (and returns nothing).
    app.connect("html-page-context", _load_each_script_once, priority=1)
    app.add_js_file(None, body=_DEFAULT_MODE, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
