"""Where things are: asv.conf.json (results_dir, html_dir, repo) and command-line overrides.

asv reads ``asv.conf.json`` from the current directory; so do the tools (or ``--config``).
Relative paths in it are relative to the file's folder, as in asv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tools.errors import ToolError

DEFAULT_CONFIG = "asv.conf.json"
OUTPUT_DIR = Path("metrics") / "performance"


@dataclass(frozen=True)
class Settings:
    root: Path  # folder of asv.conf.json (or the current directory)
    results_dirs: tuple[Path, ...]
    html_dir: Path
    repo: Path
    machine: str | None = None
    output_dir: Path = OUTPUT_DIR
    config_path: Path | None = None
    cache_dir: Path | None = None
    branch: str = "HEAD"  # the branch whose first-parent history orders the commits

    @property
    def reports_dir(self) -> Path:
        return self.output_dir / "reports"

    @property
    def charts_dir(self) -> Path:
        return self.output_dir / "charts"


def read_asv_conf(path: Path) -> dict:
    """asv.conf.json allows // comments; asv's own reader handles them."""
    from asv import util

    try:
        data = util.load_json(str(path), js_comments=True)
    except util.UserError as exc:
        raise ToolError(f"{path}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise ToolError(f"{path}: cannot read asv configuration ({exc})") from None
    if not isinstance(data, dict):
        raise ToolError(f"{path}: expected a JSON object")
    return data


# Paths in asv.conf.json that asv resolves against the config file's folder.
_CONF_PATHS = {"repo": ".", "benchmark_dir": "benchmarks", "env_dir": "env"}


def write_scratch_asv_conf(conf: dict, home: Path, out_dir: Path, **overrides: str) -> Path:
    """Write ``conf`` to ``out_dir/asv.conf.json`` with ``overrides`` applied (results_dir,
    html_dir, ...) and every project path made absolute against ``home``, the folder of the
    original config: asv changes into the scratch config's folder, so relative paths would
    point into ``out_dir``."""
    conf = dict(conf)
    for key, default in _CONF_PATHS.items():
        value = str(conf.get(key, default))
        if key == "repo" and ("://" in value or value.startswith("git@")):
            continue  # a remote URL: asv mirrors it itself
        conf[key] = str((home / value).resolve())
    conf.update({key: str(value) for key, value in overrides.items()})
    path = out_dir / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every command shares: where the results are and which machine."""
    g = parser.add_argument_group("results")
    g.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help=f"asv configuration file (default: ./{DEFAULT_CONFIG} when present)",
    )
    g.add_argument(
        "--results-dir",
        metavar="DIR",
        action="append",
        default=None,
        help="asv results directory (default: results_dir from asv.conf.json); repeat it to "
        "load several, e.g. interleaved rounds, numbered in the 'round' column",
    )
    g.add_argument("--machine", metavar="NAME", default=None, help="only this asv machine (default: all machines)")
    g.add_argument("--output-dir", metavar="DIR", default=None, help=f"where outputs go (default: {OUTPUT_DIR})")
    g.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every result file instead of reusing the loader cache under .asv/",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    config = getattr(args, "config", None)
    conf_path = Path(config) if config else Path(DEFAULT_CONFIG)
    if config and not conf_path.is_file():
        raise ToolError(f"asv configuration {conf_path} not found")
    conf = read_asv_conf(conf_path) if conf_path.is_file() else {}
    root = conf_path.resolve().parent if conf_path.is_file() else Path.cwd()

    def rel(value: str | os.PathLike) -> Path:
        p = Path(value)
        return p if p.is_absolute() else root / p

    given = getattr(args, "results_dir", None)
    if given:
        results_dirs = tuple(Path(d) for d in given)
    else:
        results_dirs = (rel(conf.get("results_dir", "results")),)
    output = getattr(args, "output_dir", None)
    # The loader cache lives in the project's git-ignored .asv/, and only for results
    # inside the project: never write beside results kept elsewhere.
    inside = all(_is_within(d, root) for d in results_dirs)
    cache_dir = rel(".asv") / "tools-cache" if inside and not getattr(args, "no_cache", False) else None
    return Settings(
        root=root,
        results_dirs=results_dirs,
        html_dir=rel(conf.get("html_dir", "html")),
        repo=rel(conf.get("repo", "."))
        if not str(conf.get("repo", ".")).startswith(("http:", "https:", "git@"))
        else root,
        machine=getattr(args, "machine", None),
        output_dir=Path(output) if output else root / OUTPUT_DIR,
        config_path=conf_path if conf_path.is_file() else None,
        cache_dir=cache_dir,
        branch=str((conf.get("branches") or ["HEAD"])[0]),
    )


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def load_table(settings: Settings) -> pd.DataFrame:
    """The tidy table for these settings (see ``tools.loader.load_results``), its commits placed in
    the branch's first-parent history when the repository is at hand (``revisions.with_history_order``)."""
    from tools.loader import load_results
    from tools.revisions import with_history_order

    dirs = settings.results_dirs
    table = load_results(
        list(dirs) if len(dirs) > 1 else dirs[0], machine=settings.machine, cache_dir=settings.cache_dir
    )
    return with_history_order(table, settings.repo, settings.branch)


def load_table_if_any(settings: Settings) -> pd.DataFrame | None:
    """``load_table``, or None when there are no results to read (what calibrates the noise of a
    single run is optional)."""
    try:
        return load_table(settings)
    except ToolError:
        return None


def utc_stamp(now: pd.Timestamp | None = None) -> str:
    """``YYYY-MM-DD_HH-MM-SS`` in UTC, the suffix of every output file name.

    ``SOURCE_DATE_EPOCH`` (seconds, the reproducible-builds convention) fixes "now", so the same
    results give byte-identical outputs."""
    if now is None and os.environ.get("SOURCE_DATE_EPOCH", "").strip():
        epoch = os.environ["SOURCE_DATE_EPOCH"].strip()
        if not epoch.isdigit():
            raise ToolError(f"SOURCE_DATE_EPOCH={epoch!r}: expected whole seconds since 1970")
        now = pd.Timestamp(int(epoch), unit="s", tz="UTC")
    now = now or pd.Timestamp.now(tz="UTC")
    return now.strftime("%Y-%m-%d_%H-%M-%S")


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """Seconds of a duration written as '10m', '90s', '90', '1h30m' or '2.5m' (argparse type; its
    ArgumentTypeError names the accepted forms)."""
    m = _DURATION.match(str(text).strip().lower())
    if not text or not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 10m, 90s, 1h30m)")
    h, mins, secs = (float(g) if g else 0.0 for g in m.groups())
    seconds = 3600 * h + 60 * mins + secs
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a budget must be longer than 0 s")
    return seconds
