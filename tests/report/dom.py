"""Reading a report's HTML (as written, or as Chromium's rendered DOM) into checkable facts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class PageFacts:
    ids: set[str] = field(default_factory=set)
    classes: Counter = field(default_factory=Counter)
    img_sources: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # href and src of everything but images
    methods: list[str] = field(default_factory=list)  # data-method of method sections
    absent: list[str] = field(default_factory=list)  # data-absent of "not shown" boxes
    compounds: list[str] = field(default_factory=list)  # data-compound of dose-response figures
    text: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)  # cell texts of #comparison-table


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = PageFacts()
        self._in_table = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.facts.ids.add(a["id"])
        self.facts.classes.update((a.get("class") or "").split())
        if tag == "img":
            self.facts.img_sources.append(a.get("src") or "")
        else:
            self.facts.links += [a[k] for k in ("href", "src") if a.get(k)]
        for key, target in (("data-method", "methods"), ("data-absent", "absent"), ("data-compound", "compounds")):
            if key in a:
                getattr(self.facts, target).append(a[key])
        if tag == "table" and a.get("id") == "comparison-table":
            self._in_table = 1
        elif tag == "table" and self._in_table:
            self._in_table += 1
        if self._in_table and tag == "tr":
            self._row = []
        if self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._in_table and tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if self._in_table and tag == "tr" and self._row is not None:
            self.facts.table_rows.append(self._row)
            self._row = None
        if tag == "table" and self._in_table:
            self._in_table -= 1

    def handle_data(self, data):
        self.facts.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def page_facts(html: str) -> PageFacts:
    collector = _Collector()
    collector.feed(html)
    return collector.facts


def external_references(html: str) -> list[str]:
    """Anything the page would fetch from a network: http(s) or protocol-relative URLs in src,
    href, CSS url() or @import."""
    pattern = r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]+|url\(\s*["']?(?:https?:)?//[^)]+\)|@import"""
    return re.findall(pattern, html, flags=re.IGNORECASE)
