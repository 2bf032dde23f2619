"""Load charts (matplotlib, headless): throughput and latency percentiles against users."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from tools.charts import STYLE, render_png  # noqa: F401 - STYLE applied below; also sets the Agg backend

COLORS = {"direct": "#6e7781", "gateway": "#0969da", "litellm": "#cf222e"}


def _axes_users(ax, users) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(users))
    ax.set_xticklabels([str(u) for u in sorted(users)])
    ax.set_xlabel("concurrent users")
    ax.grid(True, alpha=0.3)


def throughput_figure(df: pd.DataFrame) -> Figure:
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
        for target, part in df.groupby("target", sort=False):
            part = part.sort_values("users")
            ax.plot(part["users"], part["rps"], marker="o", label=target, color=COLORS.get(target))
        _axes_users(ax, df["users"].unique())
        ax.set_ylabel("requests per second")
        ax.set_title("Throughput vs users")
        ax.legend()
    return fig


def latency_figure(df: pd.DataFrame) -> Figure:
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True, layout="constrained")
        for ax, q in zip(axes, ("p50_ms", "p95_ms", "p99_ms")):
            for target, part in df.groupby("target", sort=False):
                part = part.sort_values("users")
                ax.plot(part["users"], part[q], marker="o", label=target, color=COLORS.get(target))
            _axes_users(ax, df["users"].unique())
            ax.set_title(q.replace("_ms", ""))
        axes[0].set_ylabel("response time (ms)")
        axes[0].legend()
        fig.suptitle("Latency percentiles vs users")
    return fig


def load_chart_pngs(df: pd.DataFrame) -> dict[str, bytes]:
    """{file name: PNG}: load_throughput.png and load_latency.png."""
    return {
        "load_throughput.png": render_png(throughput_figure(df)),
        "load_latency.png": render_png(latency_figure(df)),
    }
