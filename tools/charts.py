"""Trend charts (matplotlib, headless): pure functions from the tidy table to figures.

One figure per component (a panel per unit, each benchmark's median per commit with its
99% interval as a band, log y when the values span more than ``LOG_SPAN``x) and a summary
figure (each component's geometric-mean cost relative to each series' first commit).
Sized and lettered to stay readable on paper.
"""

from __future__ import annotations

import math
import re

import matplotlib

matplotlib.use("Agg")  # headless: CI machines have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from tools.humanize import digits_for_range, human_value  # noqa: E402
from tools.schema import lower_is_better  # noqa: E402
from tools.stats import per_commit_median  # noqa: E402

LOG_SPAN = 20.0
MAX_SERIES_PER_PANEL = 16
STYLE = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
}

_UNIT_LABEL = {"seconds": "time per call", "bytes": "memory", "instructions": "instructions", "ops/s": "throughput"}


def commit_axis(points: pd.DataFrame) -> pd.DataFrame:
    """Commits in date order -> x positions 0..n-1 and tick labels 'abc12345\\nMM-DD'."""
    commits = points.groupby("commit", observed=True)["commit_date"].min().sort_values(kind="stable")
    return pd.DataFrame(
        {
            "commit": commits.index.astype(str),
            "x": np.arange(len(commits)),
            "label": [f"{c[:8]}\n{d:%m-%d}" for c, d in zip(commits.index.astype(str), commits)],
        }
    )


def compact_params(params: str) -> str:
    """``n_models=100, strategy='cost'`` -> ``100, cost`` (names are in the benchmark's signature)."""
    return re.sub(r"(?:(?<=^)|(?<=, ))\w+=", "", params).replace("'", "").replace('"', "")


def series_label(benchmark: str, params: str, with_class: bool = True, width: int = 60) -> str:
    """``router_benchmarks.Route.time_route`` + params -> ``Route.time_route(100, cost)``;
    too long: the name is shortened from the left, the parameters (what tells lines apart) kept."""
    parts = benchmark.split(".")
    name = ".".join(parts[1:] if with_class else parts[-1:]) if len(parts) > 1 else benchmark
    args = f"({compact_params(params)})" if params else ""
    if len(name) + len(args) > width:
        keep = max(width - len(args) - 1, 8)
        name = "…" + name[-keep:]
    return name + args


def _series_keys(df: pd.DataFrame) -> list[str]:
    keys = ["benchmark", "params"]
    if df["machine"].nunique() > 1:
        keys.insert(0, "machine")
    if df["environment"].nunique() > 1:
        keys.insert(0, "environment")
    return keys


def _label(key: tuple, keys: list[str], with_class: bool) -> str:
    d = dict(zip(keys, key))
    label = series_label(str(d["benchmark"]), str(d["params"]), with_class)
    extra = [str(d[k])[:24] for k in ("machine", "environment") if k in d]
    return f"{label} [{', '.join(extra)}]" if extra else label


def panels(points: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(title, unit, rows) per panel: one per unit, split by benchmark class when a unit has
    more series than a legend can hold legibly."""
    out = []
    for unit in sorted(points["unit"].astype(str).unique()):
        rows = points[points["unit"].astype(str) == unit]
        n = len(rows.groupby(_series_keys(rows), observed=True))
        if n <= MAX_SERIES_PER_PANEL:
            out.append(("", unit, rows))
            continue
        cls = rows["benchmark"].astype(str).str.rsplit(".", n=1).str[0]
        for name, part in rows.groupby(cls, sort=True):
            out.append((name.split(".", 1)[-1], unit, part))
    return out


def _use_log(values: np.ndarray) -> bool:
    v = values[np.isfinite(values) & (values > 0)]
    return len(v) > 1 and v.max() / v.min() > LOG_SPAN


def _draw_panel(ax, df: pd.DataFrame, axis: pd.DataFrame, unit: str, title: str = "") -> None:
    x_of = dict(zip(axis["commit"], axis["x"]))
    keys = _series_keys(df)
    groups = list(df.groupby(keys, observed=True, sort=True))
    for i, (key, s) in enumerate(groups[:MAX_SERIES_PER_PANEL]):
        s = s.sort_values("commit_date", kind="stable")
        x = s["commit"].astype(str).map(x_of).to_numpy(dtype=float)
        color = plt.get_cmap("tab20")(i % 20)
        key = key if isinstance(key, tuple) else (key,)
        ax.plot(x, s["value"], marker="o", ms=4, lw=1.6, color=color, label=_label(key, keys, with_class=not title))
        lo, hi = s["ci_low"].to_numpy(dtype=float), s["ci_high"].to_numpy(dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            ax.fill_between(x[ok], lo[ok], hi[ok], color=color, alpha=0.18, lw=0)
    if len(groups) > MAX_SERIES_PER_PANEL:
        ax.text(
            0.99,
            0.02,
            f"+{len(groups) - MAX_SERIES_PER_PANEL} more series (see the report tables)",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=9,
            color="0.35",
        )
    values = df["value"].to_numpy(dtype=float)
    if _use_log(values):
        ax.set_yscale("log")
    if ax.get_yscale() == "log":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human_value(v, unit)))
    else:  # narrow linear ranges need more digits to keep tick labels distinct
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human_value(v, unit, digits_for_range(*ax.get_ylim()))))
    what = _UNIT_LABEL.get(unit)
    scale = ", log scale" if _use_log(values) else ""
    ax.set_ylabel(f"{what}\n({unit}{scale})" if what else f"{unit}{scale}")
    if title:
        ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlim(-0.5, max(len(axis) - 0.5, 0.5))
    step = max(1, math.ceil(len(axis) / 12))
    ticks = axis.iloc[::step]
    ax.set_xticks(ticks["x"], ticks["label"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)


def component_figure(table: pd.DataFrame, component: str) -> Figure:
    """One panel per unit; each line is one benchmark x params (per machine/environment)."""
    points = per_commit_median(table[table["component"].astype(str) == component])
    if points.empty:
        raise ValueError(f"no successful results for component {component!r}")
    axis = commit_axis(points)
    layout = panels(points)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(layout), 1, figsize=(13, 3.6 * len(layout) + 1.0), squeeze=False, layout="constrained"
        )
        for ax, (title, unit, rows) in zip(axes[:, 0], layout):
            _draw_panel(ax, rows, axis, unit, title)
        axes[-1, 0].set_xlabel("commit (oldest → newest)")
        fig.suptitle(f"{component}: median per commit, band = 99% confidence interval", fontweight="bold")
    return fig


def relative_cost(table: pd.DataFrame) -> pd.DataFrame:
    """Per component and commit: geometric mean over series of value / first value
    (inverted for higher-is-better units), so 1.10 means 10% more cost than at the start."""
    points = per_commit_median(table)
    points = points[points["value"] > 0]
    if points.empty:
        return pd.DataFrame(columns=["component", "commit", "commit_date", "relative_cost", "n_series"])
    keys = ["machine", "environment", "benchmark", "params"]
    points = points.sort_values("commit_date", kind="stable")
    first = points.groupby(keys, observed=True)["value"].transform("first")
    ratio = points["value"] / first
    lib = np.array([lower_is_better(t, u) for t, u in zip(points["type"].astype(str), points["unit"].astype(str))])
    points = points.assign(log_cost=np.where(lib, np.log(ratio), -np.log(ratio)))
    out = (
        points.groupby(["component", "commit"], observed=True)
        .agg(commit_date=("commit_date", "min"), log_cost=("log_cost", "mean"), n_series=("log_cost", "size"))
        .reset_index()
    )
    out["relative_cost"] = np.exp(out["log_cost"])
    return out.drop(columns="log_cost").sort_values("commit_date", kind="stable")


def summary_figure(table: pd.DataFrame) -> Figure:
    rel = relative_cost(table)
    if rel.empty:
        raise ValueError("no successful results to chart")
    axis = commit_axis(rel)
    x_of = dict(zip(axis["commit"], axis["x"]))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(13, 5.5), layout="constrained")
        for i, (component, s) in enumerate(rel.groupby("component", observed=True, sort=True)):
            x = s["commit"].astype(str).map(x_of).to_numpy(dtype=float)
            ax.plot(
                x,
                s["relative_cost"],
                marker="o",
                ms=4,
                lw=2,
                color=plt.get_cmap("tab10")(i % 10),
                label=f"{component} ({int(s['n_series'].max())} series)",
            )
        ax.axhline(1.0, color="0.3", lw=1, ls="--")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2f}×"))
        ax.yaxis.set_major_locator(MaxNLocator(8))
        ax.set_ylabel("cost relative to first commit\n(geometric mean; < 1 = faster)")
        ax.set_xlabel("commit (oldest → newest)")
        step = max(1, math.ceil(len(axis) / 12))
        ticks = axis.iloc[::step]
        ax.set_xticks(ticks["x"], ticks["label"])
        ax.set_xlim(-0.5, max(len(axis) - 0.5, 0.5))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
        ax.set_title("All components: relative cost per commit", fontweight="bold")
    return fig


def components(table: pd.DataFrame) -> list[str]:
    ok = table[~table["failed"] & ~table["skipped"] & table["value"].notna()]
    return sorted(ok["component"].astype(str).unique())


def render_png(fig: Figure, dpi: int = 130) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def chart_pngs(table: pd.DataFrame) -> dict[str, bytes]:
    """{file name: PNG bytes}: ``<component>.png`` for each component and ``summary.png``."""
    out = {f"{c}.png": render_png(component_figure(table, c)) for c in components(table)}
    if out:
        out["summary.png"] = render_png(summary_figure(table))
    return out
