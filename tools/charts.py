"""Trend charts (matplotlib, headless): pure functions from the tidy table (and marks) to PNGs.

Small multiples: one panel per benchmark x params, one line per machine + environment in it
(a colour per machine + environment, the same in every panel and page of a run), commit dates
on the x axis (concise labels with the year; one range per page), asv's 99% interval as a faint
band, log y when a panel spans more than ``LOG_SPAN``x. A component with more panels than a
page of at most ``MAX_HEIGHT_PX`` holds is split into pages ``<component>.png``,
``<component>-2.png``, ...; ``summary.png`` (``summary-2.png``, ...) has a panel per component:
each machine + environment's geometric-mean cost relative to each series' first commit.
Change points and environment shifts (``Mark``) are drawn as dashed lines and shaded bands.
``write_charts`` also writes ``index.md``: the full name of every panel (titles may be cut), and
draws the pages in worker processes when there are several (``tools.workers``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # headless: CI machines have no display

import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, MaxNLocator  # noqa: E402

from tools import workers  # noqa: E402
from tools.detect.finding import CHANGED, Finding, from_record  # noqa: E402
from tools.errors import ToolError  # noqa: E402
from tools.humanize import digits_for_range, human_value, unit_name  # noqa: E402
from tools.io import atomic_write_bytes, atomic_write_text  # noqa: E402
from tools.schema import lower_is_better, resource_metric_of  # noqa: E402
from tools.stats import per_commit_median  # noqa: E402

LOG_SPAN = 20.0
MAX_HEIGHT_PX = 2000
DPI = 100
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
SUMMARY = "summary"  # the summary chart's page group; component pages are named after the component
RATIO_UNIT = "×"  # the summary panels' unit: cost relative to the first commit
KINDS = ("regressed", "improved", "shift")
KIND_COLOURS = {"regressed": "#b00020", "improved": "#1a7f37"}
MAX_MARK_LABELS = 6  # more marks in one panel: lines only (labels would overlap)
SPLIT_PAGES = 3  # pages from which drawing them in worker processes pays for their start
MAX_TICK_CHARS = 12  # a y tick label longer than this would be cut at the page's left margin
MARKERS_UP_TO = 60  # commits a line may have and still show a dot per commit

# Page geometry, inches at DPI: every page is this wide; its height follows its rows of panels.
_W, _LEFT, _RIGHT, _GAP_W, _NCOLS = 16.0, 1.0, 0.25, 1.1, 3
_HEADER, _LEGEND_ROW, _TITLE_H, _AXES_H, _TICKS_H, _FOOT = 0.55, 0.24, 0.32, 1.75, 0.5, 0.1
_MAX_ROWS, _MAX_LEGEND_ROWS = 6, 12
_TITLE_WIDTH, _LEGEND_WIDTH = 52, 90  # characters that fit a panel title / a legend entry

# Colours for machine + environment lines: tab20 without its reds and greens (the marks use
# those); past 16 lines the colours repeat with another line style.
_PALETTE = [c for i, c in enumerate(matplotlib.colormaps["tab20"].colors) if i // 2 not in (2, 3)]
_PALETTE = _PALETTE[0::2] + _PALETTE[1::2]  # the eight strong colours first, then their light twins
_LINESTYLES = ("-", "--", ":", "-.")


# ---------------------------------------------------------------- marks


@dataclass(frozen=True)
class Mark:
    """A commit to point at: a change in one series (``benchmark`` and ``params`` given), in every
    params of a benchmark (``params`` None) or in every series of the machine + environment
    (``benchmark`` None). ``kind`` "regressed"/"improved" is a vertical line at ``commit_after``;
    "shift" (e.g. a new runner image) a band from the machine + environment's previous commit."""

    machine: str
    environment: str
    benchmark: str | None
    params: str | None
    commit_after: str  # full hash or a unique prefix
    kind: str
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown mark kind {self.kind!r}; expected one of {KINDS}")
        if not self.commit_after:
            raise ValueError("a mark needs commit_after")


def marks_from_findings(findings: Iterable[Finding]) -> list[Mark]:
    """A mark per change point: history or sessions findings judged regressed or improved.
    A change that re-measuring refuted (``evidence.confirmed`` False) is left out."""
    out = []
    for f in findings:
        ev = f.evidence
        if f.mode not in ("history", "sessions") or f.verdict not in CHANGED or not ev.commit_after:
            continue
        if ev.confirmed is False:
            continue
        label = f"{f.change_pct:+.1f}%" if math.isfinite(f.change_pct) else f.verdict
        out.append(Mark(f.machine, f.environment, f.benchmark, f.params, str(ev.commit_after), f.verdict, label))
    return out


def marks_from_report(report: dict) -> list[Mark]:
    """The marks of a regression report's JSON (``python -m tools regressions --history``): its
    history change points and its environment shifts."""
    rows = [r for r in report.get("results", []) if isinstance(r, dict) and r.get("mode") == "history"]
    marks = marks_from_findings(from_record(r) for r in rows)
    for s in report.get("environment_shifts", []):
        label = f"shift {s['median_change_pct']:+.0f}%" if s.get("median_change_pct") is not None else "shift"
        marks.append(Mark(s["machine"], s["environment"], None, None, s["commit_after"], "shift", label))
    return marks


# ---------------------------------------------------------------- names


def compact_params(params: str) -> str:
    """``n_models=100, strategy='cost'`` -> ``100, cost`` (names are in the benchmark's signature)."""
    return re.sub(r"(?:(?<=^)|(?<=, ))\w+=", "", params).replace("'", "").replace('"', "")


def ellipsize(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters (both ends usually tell things apart)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def series_label(benchmark: str, params: str, with_class: bool = True, width: int = 60) -> str:
    """``router_benchmarks.Route.time_route`` + params -> ``Route.time_route(100, cost)``;
    too long: the name is shortened from the left, the parameters (what tells lines apart) kept."""
    parts = benchmark.split(".")
    name = ".".join(parts[1:] if with_class else parts[-1:]) if len(parts) > 1 else benchmark
    args = f"({compact_params(params)})" if params else ""
    if len(name) + len(args) > width:
        keep = max(width - len(args) - 1, 8)
        name = "…" + name[-keep:]
    return ellipsize(name + args, width)


def line_names(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(machine, environment) -> its legend entry: the environment without the ``-`` tokens every
    environment shares (``conda-py3.8-numpy`` and ``conda-py3.9-numpy`` -> ``py3.8``, ``py3.9``),
    prefixed by the machine when there are several; the full names are in the page index."""
    machines = {m for m, _ in keys}
    envs = sorted({e for _, e in keys})
    common = set.intersection(*(set(e.split("-")) for e in envs)) if len(envs) > 1 else set()

    def short(env: str) -> str:
        return "-".join(t for t in env.split("-") if t not in common) or env

    names = {(m, e): (f"{ellipsize(m, 28)} · {short(e)}" if len(machines) > 1 else short(e)) for m, e in keys}
    if len(set(names.values())) < len(names):  # shortening merged two: full names instead
        names = {(m, e): (f"{m} · {e}" if len(machines) > 1 else e) for m, e in keys}
    return {k: ellipsize(v, _LEGEND_WIDTH) for k, v in names.items()}


def line_styles(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[tuple, str]]:
    """(machine, environment) -> (colour, line style), in sorted order: stable for a given table."""
    n = len(_PALETTE)
    return {k: (_PALETTE[i % n], _LINESTYLES[(i // n) % len(_LINESTYLES)]) for i, k in enumerate(sorted(keys))}


# ---------------------------------------------------------------- data


def date_num(dates: pd.Series) -> np.ndarray:
    """Commit dates (tz-aware UTC) -> matplotlib date numbers (days), the x of every panel."""
    d = pd.to_datetime(dates, utc=True).dt.tz_convert(None)
    return mdates.date2num(d.to_numpy())


def chart_points(table: pd.DataFrame) -> pd.DataFrame:
    """``per_commit_median`` with string keys and ``x``, the commit date as a date number."""
    points = per_commit_median(table)
    cols = ["machine", "environment", "component", "benchmark", "params", "unit", "type", "commit"]
    points = points.astype(dict.fromkeys(cols, str))
    return points.assign(x=date_num(points["commit_date"]))


def relative_cost(points: pd.DataFrame) -> pd.DataFrame:
    """Per component, machine + environment and commit (``points``: ``per_commit_median``): the
    geometric mean over series of value / first value (inverted for higher-is-better units),
    so 1.10 means 10% more cost than at each series' first commit. The resource channel's series
    are left out: near-zero system CPU and preemptions that follow the machine's load would swing
    the mean by factors (they have their own panels)."""
    resource = np.array([resource_metric_of(b) is not None for b in points["benchmark"].astype(str)], dtype=bool)
    points = points[(points["value"] > 0).to_numpy() & ~resource]
    cols = ["component", "machine", "environment", "commit", "commit_date", "relative_cost", "n_series"]
    if points.empty:
        return pd.DataFrame(columns=cols)
    points = points.sort_values("commit_date", kind="stable")
    first = points.groupby(["machine", "environment", "benchmark", "params"], observed=True)["value"].transform("first")
    ratio = points["value"] / first
    lib = np.array([lower_is_better(t, u) for t, u in zip(points["type"].astype(str), points["unit"].astype(str))])
    points = points.assign(log_cost=np.where(lib, np.log(ratio), -np.log(ratio)))
    out = (
        points.groupby(["component", "machine", "environment", "commit"], observed=True)
        .agg(commit_date=("commit_date", "min"), log_cost=("log_cost", "mean"), n_series=("log_cost", "size"))
        .reset_index()
    )
    out["relative_cost"] = np.exp(out["log_cost"])
    return out[cols].sort_values("commit_date", kind="stable")


def components(table: pd.DataFrame) -> list[str]:
    ok = table[~table["failed"] & ~table["skipped"] & table["value"].notna()]
    return sorted(ok["component"].astype(str).unique())


@dataclass(frozen=True)
class Context:
    """What every page of one run shares: a style and a name per machine + environment, and
    where each mark goes (x of ``commit_after`` and of the commit before it)."""

    styles: dict
    names: dict
    placed: dict  # Mark -> (x, x of the machine + environment's previous commit, or None)


def _place(mark: Mark, commit_x: pd.Series, key_x: dict) -> tuple[float, float | None] | None:
    """A mark's x and its machine + environment's previous x; None when its commit or its
    machine + environment is not in the charted table (e.g. outside ``--last``)."""
    xs = key_x.get((mark.machine, mark.environment))
    hits = commit_x[commit_x.index.str.startswith(mark.commit_after)]
    if xs is None or len(hits) != 1:
        return None
    x = float(hits.iloc[0])
    before = xs[xs < x]
    return x, (float(before[-1]) if len(before) else None)


def context(points: pd.DataFrame, marks: Iterable[Mark] = ()) -> Context:
    """Styles and names for every machine + environment of ``points`` (so one colour holds
    across all pages), and the marks that can be placed (others are left out)."""
    keys = sorted(points.groupby(["machine", "environment"]).groups)
    commit_x = points.groupby("commit")["x"].min()
    key_x = {k: np.unique(g["x"].to_numpy()) for k, g in points.groupby(["machine", "environment"])}
    placed = {m: p for m in dict.fromkeys(marks) if (p := _place(m, commit_x, key_x)) is not None}
    return Context(line_styles(keys), line_names(keys), placed)


class DateAxis(NamedTuple):
    """The x axis every panel of a page shares: its range, tick positions, concise tick labels
    and their offset text (the year, when no tick shows it)."""

    lim: tuple[float, float]
    ticks: np.ndarray
    labels: list[str]
    offset: str


def date_axis(lo: float, hi: float) -> DateAxis:
    """The axis for dates ``lo``..``hi`` (date numbers), padded; ticks computed once per page
    (a date locator on every panel costs more than drawing its lines)."""
    pad = max((hi - lo) * 0.02, 0.5 / 24)  # at least half an hour either side
    lim = (lo - pad, hi + pad)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ticks = np.asarray(locator.tick_values(*mdates.num2date(lim)))
    ticks = ticks[(ticks >= lim[0]) & (ticks <= lim[1])]
    formatter = mdates.ConciseDateFormatter(locator)
    labels = formatter.format_ticks(ticks)
    offset = formatter.get_offset()
    if not offset and labels and not labels[0].isdigit():  # "Nov Dec 2022 Feb": say which years
        first, last = mdates.num2date(lo), mdates.num2date(hi)
        offset = f"{first:%Y}–{last:%Y}" if first.year != last.year else f"{first:%Y}"
    return DateAxis(lim, ticks, labels, offset)


# ---------------------------------------------------------------- panels


class Line(NamedTuple):
    """One machine + environment's series in a panel, oldest commit first."""

    key: tuple[str, str]  # (machine, environment)
    x: np.ndarray  # commit dates as date numbers
    y: np.ndarray
    low: np.ndarray | None  # asv's 99% interval, when the panel shows one
    high: np.ndarray | None


@dataclass(frozen=True)
class Panel:
    """One small multiple: a line per machine + environment, and the marks that fall on it."""

    title: str
    full_name: str  # what the (maybe shortened) title stands for, for the page index
    unit: str
    lines: tuple[Line, ...] = field(repr=False)
    marks: tuple[Mark, ...] = ()

    @property
    def keys(self) -> list[tuple[str, str]]:
        return [line.key for line in self.lines]


def _lines(frame: pd.DataFrame, by: list[str], y: str, band: bool) -> dict[tuple, list[Line]]:
    """``frame`` (sorted by date) split into Lines, grouped by the ``by`` columns before machine
    and environment: one pass over the frame, numpy slices after it."""
    x, v = frame["x"].to_numpy(dtype=float), frame[y].to_numpy(dtype=float)
    lo = frame["ci_low"].to_numpy(dtype=float) if band else None
    hi = frame["ci_high"].to_numpy(dtype=float) if band else None
    out: dict[tuple, list[Line]] = {}
    for key, idx in sorted(frame.groupby([*by, "machine", "environment"], sort=False).indices.items()):
        head, line_key = key[: len(by)], (str(key[-2]), str(key[-1]))
        out.setdefault(head, []).append(
            Line(line_key, x[idx], v[idx], lo[idx] if band else None, hi[idx] if band else None)
        )
    return out


def _marks_on(keys: list[tuple[str, str]], ctx: Context, applies: Callable[[Mark], bool]) -> tuple[Mark, ...]:
    """The placed marks of a panel: those of its machine + environment lines that ``applies`` to it
    (a mark without a benchmark applies to every panel of its machine + environment)."""
    keys = set(keys)
    return tuple(m for m in ctx.placed if (m.machine, m.environment) in keys and (m.benchmark is None or applies(m)))


def component_panels(points: pd.DataFrame, ctx: Context) -> list[Panel]:
    """A panel per benchmark x params of one component, by benchmark name, params in asv's order."""
    order = points[["benchmark", "params", "unit"]].drop_duplicates(["benchmark", "params"])
    order = order.sort_values("benchmark", kind="stable")  # params keep their first-seen (asv) order
    lines = _lines(points, ["benchmark", "params"], "value", band=True)
    out = []
    for i, (bench, params, unit) in enumerate(order.itertuples(index=False), start=1):
        title = f"{i}. " + series_label(bench, params, width=_TITLE_WIDTH - len(f"{i}. "))
        full = f"{bench}({params})" if params else bench
        panel = Panel(title, full, unit, tuple(lines[(bench, params)]))
        applies = lambda m, b=bench, p=params: m.benchmark == b and m.params in (None, p)  # noqa: E731
        out.append(dataclasses.replace(panel, marks=_marks_on(panel.keys, ctx, applies)))
    return out


def summary_panels(points: pd.DataFrame, ctx: Context) -> list[Panel]:
    """A panel per component: each machine + environment's relative cost per commit."""
    rel = relative_cost(points)
    rel = rel.assign(x=date_num(rel["commit_date"]))
    n_series = rel.groupby("component")["n_series"].max()
    comp_of = dict(zip(points["benchmark"], points["component"]))
    out = []
    for (component,), lines in _lines(rel, ["component"], "relative_cost", band=False).items():
        title = f"{ellipsize(str(component), _TITLE_WIDTH - 14)} ({int(n_series[component])} series)"
        panel = Panel(title, str(component), RATIO_UNIT, tuple(lines))
        applies = lambda m, c=component: comp_of.get(m.benchmark) == c  # noqa: E731
        out.append(dataclasses.replace(panel, marks=_marks_on(panel.keys, ctx, applies)))
    return out


# ---------------------------------------------------------------- drawing


def _use_log(values: np.ndarray) -> bool:
    v = values[np.isfinite(values) & (values > 0)]
    return len(v) > 1 and v.max() / v.min() > LOG_SPAN


def _draw_lines(ax, panel: Panel, ctx: Context) -> None:
    """One line per machine + environment (gid ``machine/environment``); their intervals as
    faint bands, one collection per panel (fill_between per line is slow on long histories)."""
    bands, colours = [], []
    for line in panel.lines:
        colour, style = ctx.styles[line.key]
        dots = "o" if len(line.x) <= MARKERS_UP_TO else None
        name = ctx.names[line.key]
        ax.plot(line.x, line.y, color=colour, ls=style, lw=1.3, marker=dots, ms=3, label=name, gid="/".join(line.key))
        if line.low is None:
            continue
        ok = np.isfinite(line.low) & np.isfinite(line.high)
        if ok.sum() > 1:
            x = line.x[ok]
            bands.append(np.column_stack([np.r_[x, x[::-1]], np.r_[line.low[ok], line.high[ok][::-1]]]))
            colours.append(colour)
    if bands:
        ax.add_collection(PolyCollection(bands, facecolors=colours, alpha=0.15, lw=0), autolim=False)


def _y_span(panel: Panel) -> np.ndarray:
    """What the y limits hold: every value, and the intervals' 10th and 90th percentile bounds
    (a few wild intervals, common in long histories, would otherwise flatten the lines)."""
    values = np.concatenate([line.y for line in panel.lines])
    lows = [line.low for line in panel.lines if line.low is not None]
    highs = [line.high for line in panel.lines if line.high is not None]
    low, high = (np.concatenate(b) if b else np.array([]) for b in (lows, highs))
    low, high = low[np.isfinite(low)], high[np.isfinite(high)]
    bounds = [np.percentile(low, 10), np.percentile(high, 90)] if len(low) and len(high) else []
    return np.concatenate([values, bounds])


def _y_axis(ax, values: np.ndarray, span: np.ndarray, unit: str) -> None:
    """Log when the values span more than LOG_SPAN, limits around ``span``, tick labels with units."""
    v, s = values[np.isfinite(values)], span[np.isfinite(span)]
    if not len(v):
        return
    if _use_log(v):
        ax.set_yscale("log")
        lo, hi = s[s > 0].min() / 1.15, s.max() * 1.15
    else:
        pad = (s.max() - s.min()) * 0.08 or abs(s.max()) * 0.05 or 1.0
        lo, hi = s.min() - pad, s.max() + pad
    ax.set_ylim(lo, hi)
    if unit == RATIO_UNIT:
        ax.axhline(1.0, color="0.3", lw=1, ls="--")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.2f}×"))
    else:  # narrow linear ranges need more digits to keep tick labels distinct
        digits = 3 if ax.get_yscale() == "log" else digits_for_range(lo, hi)
        on_ticks = unit
        if max(len(human_value(y, unit, digits)) for y in (lo, hi)) > MAX_TICK_CHARS:
            ax.set_ylabel(unit_name(unit), fontsize=8)  # a long unit names the axis once (ticks would be cut)
            on_ticks = ""
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: human_value(y, on_ticks, digits)))
    if ax.get_yscale() == "linear":
        ax.yaxis.set_major_locator(MaxNLocator(5))


def _x_axis(ax, axis: DateAxis) -> None:
    """Commit dates, the same range and ticks on every panel of the page; concise labels carry
    the year (at a new year's tick, else in the offset text at the axis' end)."""
    ax.set_xlim(*axis.lim)
    ax.xaxis.set_major_locator(FixedLocator(axis.ticks))
    formatter = FixedFormatter(axis.labels)
    formatter.set_offset_string(axis.offset)
    ax.xaxis.set_major_formatter(formatter)


def _draw_marks(ax, panel: Panel, ctx: Context, width: float) -> None:
    """A change point: a dashed line in the verdict's colour, a triangle in the line's colour on
    top; a shift: a band in the line's colour since the previous commit. Artists carry the
    mark's label and gid ``mark:<kind>``."""
    top = ax.get_xaxis_transform()  # x in data, y in axes fraction
    labelled = len(panel.marks) <= MAX_MARK_LABELS
    for m in panel.marks:
        x, before = ctx.placed[m]
        colour = ctx.styles[(m.machine, m.environment)][0]
        text_colour = KIND_COLOURS.get(m.kind, "0.25")
        label = m.label or m.kind
        if m.kind == "shift":
            start = before if before is not None else x - width * 0.003
            ax.axvspan(start, x, color=colour, alpha=0.25, lw=0, label=label, gid="mark:shift")
        else:
            ax.axvline(x, color=text_colour, ls="--", lw=1.1, label=label, gid=f"mark:{m.kind}")
            ax.plot([x], [1.0], transform=top, marker="v", ms=7, color=colour, mec=text_colour, clip_on=False)
        if labelled:
            ax.text(
                x,
                0.96,
                f" {label[:18]}",
                transform=top,
                rotation=90,
                ha="right",
                va="top",
                fontsize=7,
                color=text_colour,
            )


def draw_panel(ax, panel: Panel, ctx: Context, axis: DateAxis) -> None:
    _draw_lines(ax, panel, ctx)
    _y_axis(ax, np.concatenate([line.y for line in panel.lines]), _y_span(panel), panel.unit)
    _x_axis(ax, axis)
    _draw_marks(ax, panel, ctx, axis.lim[1] - axis.lim[0])
    ax.set_title(panel.title, loc="left")


# ---------------------------------------------------------------- pages


def _legend_entries(panels: Sequence[Panel], ctx: Context) -> tuple[list, list[str]]:
    """(handles, labels): the page's machine + environment lines, then the kinds of marks on it."""
    keys = sorted({k for p in panels for k in p.keys})
    handles = [Line2D([], [], color=ctx.styles[k][0], ls=ctx.styles[k][1], lw=2) for k in keys]
    labels = [ctx.names[k] for k in keys]
    kinds = {m.kind for p in panels for m in p.marks}
    for kind in ("regressed", "improved"):
        if kind in kinds:
            handles.append(Line2D([], [], color=KIND_COLOURS[kind], ls="--", lw=1.1))
            labels.append(f"{kind} (change point)")
    if "shift" in kinds:
        handles.append(Patch(color="0.5", alpha=0.25, lw=0))
        labels.append("environment shift")
    return handles, labels


def _legend_shape(labels: Sequence[str]) -> tuple[int, int]:
    """(columns, rows) of the legend: as many columns as its longest entry allows."""
    width = 0.075 * max((len(s) for s in labels), default=1) + 0.6  # inches at 9 pt, with the handle
    ncol = max(1, min(4, int((_W - _LEFT - _RIGHT) // width), len(labels)))
    return ncol, min(math.ceil(len(labels) / ncol), _MAX_LEGEND_ROWS)


def _legend_grid(handles: list, labels: list[str], ncol: int, rows: int) -> tuple[list, list[str]]:
    """The entries cut to ``ncol`` x ``rows`` (the rest are named in index.md) and reordered so
    they read across rows (matplotlib fills legends column by column)."""
    if len(labels) > ncol * rows:
        handles, labels = handles[: ncol * rows - 1], labels[: ncol * rows - 1] + ["… see index.md"]
        handles.append(Line2D([], [], lw=0))
    pad = ncol * rows - len(labels)
    handles, labels = handles + [Line2D([], [], lw=0)] * pad, labels + [""] * pad
    order = [r * ncol + c for c in range(ncol) for r in range(rows)]
    return [handles[i] for i in order], [labels[i] for i in order]


def page_height(rows: int, legend_rows: int) -> float:
    """Inches: title, legend, then ``rows`` rows of panels (each: title, axes, tick labels)."""
    return _HEADER + legend_rows * _LEGEND_ROW + 0.15 + rows * (_TITLE_H + _AXES_H + _TICKS_H) + _FOOT


def panels_per_page(legend_rows: int) -> int:
    """The most panels a page holds and stays within MAX_HEIGHT_PX."""
    rows = _MAX_ROWS
    while rows > 1 and page_height(rows, legend_rows) * DPI > MAX_HEIGHT_PX:
        rows -= 1
    return rows * _NCOLS


def paginate(panels: Sequence[Panel], per_page: int) -> list[list[Panel]]:
    """Balanced pages (25 panels at 18 a page -> 15 + 10, not 18 + 7), whole rows each."""
    n_pages = max(1, math.ceil(len(panels) / per_page))
    size = min(per_page, math.ceil(len(panels) / n_pages / _NCOLS) * _NCOLS)
    return [list(panels[i : i + size]) for i in range(0, len(panels), size)] or [[]]


def _grid(fig: Figure, rows: int, ncols: int, legend_rows: int):
    height = fig.get_figheight()
    axes_w = (_W - _LEFT - _RIGHT - (ncols - 1) * _GAP_W) / ncols
    top = _HEADER + legend_rows * _LEGEND_ROW + 0.15 + _TITLE_H
    return fig.add_gridspec(
        rows,
        ncols,
        left=_LEFT / _W,
        right=1 - _RIGHT / _W,
        top=1 - top / height,
        bottom=(_TICKS_H + _FOOT) / height,
        wspace=_GAP_W / axes_w,
        hspace=(_TITLE_H + _TICKS_H) / _AXES_H,
    )


def page_figure(title: str, panels: Sequence[Panel], ctx: Context) -> Figure:
    """One page: a title, the legend above the panels (never over data), panels in rows of 3."""
    handles, labels = _legend_entries(panels, ctx)
    ncol, legend_rows = _legend_shape(labels)
    handles, labels = _legend_grid(handles, labels, ncol, legend_rows)
    xs = [line.x for p in panels for line in p.lines]
    axis = date_axis(min(x.min() for x in xs), max(x.max() for x in xs))  # the page's dates
    ncols = max(1, min(_NCOLS, len(panels)))  # one or two panels get the page's width
    rows = math.ceil(len(panels) / ncols)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(_W, page_height(rows, legend_rows)), dpi=DPI)
        grid = _grid(fig, rows, ncols, legend_rows)
        for i, panel in enumerate(panels):
            draw_panel(fig.add_subplot(grid[i // ncols, i % ncols]), panel, ctx, axis)
        h = fig.get_figheight()
        fig.suptitle(title, x=_LEFT / _W, y=1 - 0.12 / h, ha="left", va="top", fontsize=13, fontweight="bold")
        fig.legend(
            handles, labels, loc="upper left", bbox_to_anchor=(_LEFT / _W, 1 - _HEADER / h), ncol=ncol, frameon=False
        )
    return fig


@dataclass(frozen=True)
class ChartPage:
    """Where a page goes and what is on it: ``name`` is ``<group>.png`` for the first page and
    ``<group>-<number>.png`` after; ``panels`` the full names of its panels, numbered from ``first``."""

    name: str
    group: str  # a component, or SUMMARY
    number: int
    first: int
    panels: tuple[str, ...]
    lines: tuple[tuple[str, str], ...]  # (legend entry, machine / environment in full)


def page_name(group: str, number: int) -> str:
    return f"{group}.png" if number == 1 else f"{group}-{number}.png"


class PageSpec(NamedTuple):
    """What one page draws: where it goes, its title, its panels and the run's shared styles."""

    page: ChartPage
    title: str
    panels: list[Panel]
    ctx: Context


def _pages(group: str, title: str, panels: list[Panel], ctx: Context) -> Iterator[PageSpec]:
    keys = sorted(ctx.names)
    worst = [ctx.names[k] for k in keys] + ["regressed (change point)", "improved (change point)", "environment shift"]
    per_page = panels_per_page(_legend_shape(worst)[1])  # every page's legend is at most this tall
    chunks = paginate(panels, per_page)
    first = 1
    for number, chunk in enumerate(chunks, start=1):
        page_title = title if len(chunks) == 1 else f"{title} — page {number} of {len(chunks)}"
        on_page = sorted({k for p in chunk for k in p.keys})
        lines = tuple((ctx.names[k], f"{k[0]} / {k[1]}") for k in on_page)
        page = ChartPage(page_name(group, number), group, number, first, tuple(p.full_name for p in chunk), lines)
        yield PageSpec(page, page_title, chunk, ctx)
        first += len(chunk)


def chart_pages(table: pd.DataFrame, marks: Iterable[Mark] = ()) -> Iterator[PageSpec]:
    """Every page of every component, then the summary pages; nothing when no result succeeded."""
    points = chart_points(table)
    if points.empty:
        return
    ctx = context(points, marks)
    for component, part in points.groupby("component", sort=True):
        title = f"{component}: median per commit, band = 99% confidence interval"
        yield from _pages(str(component), title, component_panels(part, ctx), ctx)
    title = "All components: cost relative to each series' first commit (geometric mean; < 1 = faster)"
    yield from _pages(SUMMARY, title, summary_panels(points, ctx), ctx)


def chart_figures(table: pd.DataFrame, marks: Iterable[Mark] = ()) -> Iterator[tuple[ChartPage, Figure]]:
    """(page, its figure) for every page of ``chart_pages``."""
    for spec in chart_pages(table, marks):
        yield spec.page, page_figure(spec.title, spec.panels, spec.ctx)


def _page_png(spec: PageSpec) -> bytes:
    """One page drawn and encoded (pages are independent: ``write_charts`` spreads them over
    worker processes)."""
    return render_png(page_figure(spec.title, spec.panels, spec.ctx))


def render_png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def panels_md(page: ChartPage) -> str:
    """``Panels of `x.png`: 1. `full name` · 2. ...``: what the (maybe cut) panel titles stand for."""
    return f"Panels of `{page.name}`: " + " · ".join(f"{page.first + i}. `{n}`" for i, n in enumerate(page.panels))


def page_index_md(page: ChartPage) -> str:
    """A page's caption in the report: its panels' full names (component pages) or, on the
    summary, the machine / environment of each legend entry that was shortened."""
    if page.group != SUMMARY:
        return panels_md(page)
    short = [f"{entry} = `{full}`" for entry, full in page.lines if entry != full.split(" / ", 1)[1]]
    return f"Lines of `{page.name}`: " + " · ".join(short) if short else ""


def write_charts(table: pd.DataFrame, out_dir: Path, *, marks: Iterable[Mark] = ()) -> list[tuple[Path, ChartPage]]:
    """Every page as a PNG in ``out_dir`` (atomically), ``index.md`` naming every panel, and
    pages of these groups left from an earlier, longer run removed. Returns (path, page)."""
    out_dir = Path(out_dir)
    specs = list(chart_pages(table, marks))
    pngs = workers.map_ordered(_page_png, specs, split=len(specs) >= SPLIT_PAGES)
    written = [(atomic_write_bytes(out_dir / spec.page.name, png), spec.page) for spec, png in zip(specs, pngs)]
    if not written:
        raise ToolError("nothing to chart: every result failed or was skipped")
    names = {page.name for _, page in written}
    for group in {page.group for _, page in written}:
        for old in out_dir.glob(f"{group}-*.png"):
            if re.fullmatch(rf"{re.escape(group)}-\d+\.png", old.name) and old.name not in names:
                old.unlink()
    atomic_write_text(out_dir / "index.md", index_md([page for _, page in written]))
    return written


def index_md(pages: Sequence[ChartPage]) -> str:
    """``index.md``: what each legend entry stands for, then the full names of each page's panels."""
    lines = sorted({entry for page in pages for entry in page.lines})
    out = ["# Charts", "", "## Lines", "", "| legend entry | machine / environment |", "|---|---|"]
    out += [f"| {entry} | `{full}` |" for entry, full in lines] + [""]
    for page in pages:
        out += [f"## {page.name}", "", panels_md(page), ""]
    return "\n".join(out)
