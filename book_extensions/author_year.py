"""Sphinx extension: the bibliography labels its entries by author and year ("Zhu et al.,
2019"), as the text cites them, instead of pybtex's alphabetic labels ("[ZLH19]").

It registers a pybtex label style and a formatting style that uses it; ``_config.yml`` selects
the latter with ``bibtex_default_style: author_year``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsortedStyle
from pybtex.style.labels import BaseLabelStyle

STYLE = "author_year"


def _names(entry: Any) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [" ".join(person.last_names) for person in people]
    if "others" in last[1:]:  # BibTeX's "and others": the list is cut short
        return f"{last[0]} et al."
    if not last:
        return entry.fields.get("title", entry.key)
    if len(last) == 1:
        return last[0]
    if len(last) == 2:
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


class AuthorYearLabels(BaseLabelStyle):
    """``"Zhu et al., 2019"``; a second entry with the same authors and year gets ``"2019b"``."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        entries = list(sorted_entries)
        plain = [f"{_names(e)}, {e.fields.get('year', 'n.d.')}" for e in entries]
        repeated = Counter(plain)
        seen: Counter[str] = Counter()
        for label in plain:
            if repeated[label] > 1:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearStyle(UnsortedStyle):
    """pybtex's ``unsrt`` entries, labelled by :class:`AuthorYearLabels`."""

    default_label_style = STYLE


def setup(app: Any) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabels)
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
