"""Markdown and HTML building blocks for the reports (pure: text in, text out)."""

from __future__ import annotations

import base64
import html
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1b1f23; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fbfbfc; }
code, pre { background: #f6f8fa; border-radius: 4px; }
code { padding: 0 3px; font-size: 0.9em; }
pre { padding: 8px; overflow-x: auto; }
img { max-width: 100%; border: 1px solid #eee; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: 0.2em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.15em; margin-top: 1.6em; }
@media print { body { max-width: none; margin: 0; } img { page-break-inside: avoid; } }
"""


def short_name(benchmark: str) -> str:
    """``router_benchmarks.Route.time_route`` -> ``Route.time_route`` (the module is the section)."""
    parts = str(benchmark).split(".")
    return ".".join(parts[1:]) if len(parts) > 1 else str(benchmark)


def json_value(v):
    """A table cell as JSON: timestamps ISO 8601, tuples lists, numpy scalars Python, NaN/NA null."""
    import pandas as pd

    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    if isinstance(v, tuple):
        return list(v)
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def json_record(row) -> dict:
    """A table row (Series or mapping) as a JSON object; private ``_`` columns left out."""
    return {str(k): json_value(v) for k, v in row.items() if not str(k).startswith("_")}


def md_escape(text: object) -> str:
    """Table-cell safe: pipes escaped, newlines flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[bool] | None = None) -> str:
    numeric = list(numeric) if numeric is not None else [False] * len(headers)
    align = ["---:" if n else "---" for n in numeric]
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def md_code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def html_page(title: str, markdown_text: str, images: Mapping[str, bytes] | None = None) -> str:
    """A self-contained HTML page from the report's Markdown; images referenced by the given
    paths are embedded as data URIs so the file can be mailed or archived alone."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables", "fenced_code", "toc"], output_format="html")
    for ref, data in (images or {}).items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        body = body.replace(f'src="{html.escape(ref)}"', f'src="{uri}"')
    # right-align the numeric cells markdown marked with align="right"
    body = re.sub(r'<(td|th) style="text-align: right;">', r'<\1 class="num">', body)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------- asv commands and links


def asv_regex(benchmark: str, param_values: Sequence[str] = ()) -> str:
    """A regex matching exactly one benchmark (x parameter combination), as asv matches
    ``name(p1, p2)`` for parameterised benchmarks; spaces are left unescaped for legibility."""
    name = f"{benchmark}({', '.join(param_values)})" if param_values else benchmark
    return "^" + re.escape(name).replace("\\ ", " ") + ("$" if not param_values else "")


def shell_quote(arg: str) -> str:
    """Double quotes when they keep the text literal (they do for regex backslashes before
    ``(``/``.``); otherwise POSIX single-quoting."""
    if not any(ch in arg for ch in '"$`!') and "\\\\" not in arg and not arg.endswith("\\"):
        return f'"{arg}"'
    return shlex.quote(arg)


def asv_find_command(
    base: str,
    head: str,
    benchmark: str,
    param_values: Sequence[str] = (),
    lower_is_better: bool = True,
    machine: str | None = None,
) -> str:
    cmd = f"asv find {base[:12]}..{head[:12]} {shell_quote(asv_regex(benchmark, param_values))}"
    if not lower_is_better:  # asv find searches for an increase unless --invert
        cmd += " --invert"
    if machine:
        cmd += f" --machine {shlex.quote(machine)}"
    return cmd


def asv_profile_command(benchmark: str, commit: str, param_values: Sequence[str] = ()) -> str:
    return f"asv profile {shell_quote(asv_regex(benchmark, param_values))} {commit[:12]}"


def graph_link(
    site: str,
    benchmark: str,
    machine: str | None = None,
    param_names: Sequence[str] = (),
    param_values: Sequence[str] = (),
) -> str:
    """The benchmark's graph in the asv site: ``<site>/#<bench>?machine=..&p-<name>=<value>``
    (the hash format of asv's graphdisplay.js; values encoded like encodeURIComponent)."""
    enc = lambda s: quote(str(s), safe="-_.!~*'()")  # noqa: E731 - encodeURIComponent's safe set
    parts = []
    if machine:
        parts.append(f"machine={enc(machine)}")
    parts += [f"{enc('p-' + n)}={enc(v)}" for n, v in zip(param_names, param_values)]
    site = site.rstrip("/")
    page = site if site.endswith(".html") else (site + "/" if "://" in site else site + "/index.html")
    return f"{page}#{benchmark}" + ("?" + "&".join(parts) if parts else "")
