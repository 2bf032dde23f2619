"""Links into the dashboard, and between it and the asv site.

The dashboard lives in ``<asv site>/dashboard/`` (``DASHBOARD_SUBDIR``), so one published folder
holds both; ``dashboard_link`` is what the regression report and the PR comment link to. The
page's view is in the URL hash (``#view=bench&b=<benchmark>&p=<params>&m=<machine>&e=<env>``),
encoded like JavaScript's ``encodeURIComponent`` and read back with ``URLSearchParams``.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

DASHBOARD_SUBDIR = "dashboard"
_NAV_ITEM = re.compile(r'[ \t]*<(li|div) id="nav-li-dashboard">.*?</\1>\n?', re.DOTALL)
_AFTER = re.compile(r'<li id="nav-li-regressions">.*?</li>\n?', re.DOTALL)
_NAV_LIST = re.compile(r'<ul class="nav navbar-nav navbar-left">\n?')


def _enc(text: str) -> str:
    return quote(str(text), safe="-_.!~*'()")  # encodeURIComponent's safe set


def view_hash(view: str, **fields: str | None) -> str:
    """``view=<view>&k=v...`` for the non-empty fields, in the given order."""
    parts = [f"view={_enc(view)}"] + [f"{k}={_enc(v)}" for k, v in fields.items() if v not in (None, "")]
    return "&".join(parts)


def dashboard_page(site: str) -> str:
    """The dashboard's page under an asv site root (a URL or a path)."""
    root = str(site).rstrip("/")
    if root.endswith(".html"):
        root = root.rsplit("/", 1)[0] if "/" in root else ""
    return f"{root}/{DASHBOARD_SUBDIR}/index.html" if root else f"{DASHBOARD_SUBDIR}/index.html"


def dashboard_link(
    site: str, benchmark: str, params: str = "", machine: str | None = None, environment: str | None = None
) -> str:
    """The benchmark's view in the dashboard published beside the asv site at ``site``."""
    fields = {"b": benchmark, "p": params, "m": machine, "e": environment}
    return f"{dashboard_page(site)}#{view_hash('bench', **fields)}"


def link_asv_site(page: str, href: str = f"{DASHBOARD_SUBDIR}/index.html") -> str:
    """asv's ``index.html`` with a "Dashboard" entry in its navigation bar (after "Regressions");
    running it again replaces the entry, never adds a second one."""
    anchor_tag = f'<a href="{html.escape(href, quote=True)}">Dashboard</a>'
    item = f'        <li id="nav-li-dashboard">{anchor_tag}</li>\n'
    page = _NAV_ITEM.sub("", page)
    for after in (_AFTER, _NAV_LIST):
        m = after.search(page)
        if m:
            return page[: m.end()] + ("" if page[m.end() - 1] == "\n" else "\n") + item + page[m.end() :]
    return page.replace("</body>", f'<div id="nav-li-dashboard">{anchor_tag}</div>\n</body>', 1)
