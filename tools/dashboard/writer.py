"""Write the dashboard folder: the page (``static/``), uPlot vendored from npm, the data scripts.

uPlot comes from the npm registry at the version pinned in ``tools/dashboard_assets/`` (npm
checks the tarball against the lock file) and each file copied is checked against the hash
pinned here, so a changed package never lands in the page unnoticed. Nothing is loaded from a
CDN: the folder opens from ``file://`` and from any static host.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from tools import site
from tools.dashboard.encode import data_files
from tools.errors import ToolError
from tools.io import atomic_write_text

ASSETS_DIR = Path(__file__).resolve().parent.parent / "dashboard_assets"
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = ("index.html", "style.css", "data.js", "chart.js", "views.js", "bench.js", "compare.js", "app.js")
MARKER = 'name="generator" content="intellirouter-dashboard"'  # in index.html: this folder is ours
DEFAULT_CACHE_DIR = Path(".asv") / "dashboard-vendor-cache"


# (placeholder in index.html or None, package, file, sha384 of the file as published)
VENDORED = (
    ("{{uplot_js}}", "uplot", "dist/uPlot.iife.min.js", "sha384-Gx3t0zdBAuQOuvvmaLZj7HKEiSgWTAs+VdtNY7wt19QDPTDQjFIwAuXDj0zeN00c"),
    ("{{uplot_css}}", "uplot", "dist/uPlot.min.css", "sha384-IfV0B7MIOYuO95kO9G5ySKPz/85zqFNOAs8iy4tkK5zd9izhJAB8b7lHrwYqqmYE"),
    (None, "uplot", "LICENSE", "sha384-LBMwZlHtMnim4BBA9gOI4OOPUI5cNjaxzIZCJRYYEyIykienqB4X7/vxq0t1Ihgd"),
)  # fmt: skip


def _check_out_dir(out_dir: Path) -> None:
    """Refuse to write into a folder that holds something other than an earlier dashboard."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ToolError(f"{out_dir} exists and is not a folder")
    index = out_dir / "index.html"
    ours = index.is_file() and MARKER in index.read_text(encoding="utf-8", errors="replace")
    if any(out_dir.iterdir()) and not ours:
        raise ToolError(f"{out_dir} is not empty and holds no dashboard: choose an empty or new folder for --out")


def vendor(out_dir: Path, cache_dir: Path, npm: str | None = None) -> dict[str, str]:
    """Copy the pinned files into ``out_dir/vendor/``; returns {placeholder: relative URL}."""
    versions = site.pinned_versions(ASSETS_DIR / "package-lock.json")
    what = "the dashboard fetches its chart library (uPlot)"
    node_modules = site.ensure_packages(Path(cache_dir), versions, npm=npm, assets_dir=ASSETS_DIR, what=what)
    urls = {}
    for placeholder, package, path, integrity in VENDORED:
        src = node_modules / package / path
        try:
            data = src.read_bytes()
        except OSError as exc:
            raise ToolError(f"{src}: missing from the npm package ({exc.strerror})") from exc
        if not site.check_integrity(data, integrity):
            raise ToolError(f"{src} differs from the pinned file (integrity {integrity}); refusing to vendor it")
        rel = site.vendor_path(package, versions[package], path)
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / rel).write_bytes(data)
        if placeholder:
            urls[placeholder] = rel
    return urls


def _copy_profiles(out_dir: Path, files: Mapping[str, Path]) -> None:
    target = out_dir / "profiles"
    if target.exists():
        shutil.rmtree(target)
    for rel, src in files.items():
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def write_dashboard(
    out_dir: Path,
    data: dict,
    *,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    npm: str | None = None,
    profile_files: Mapping[str, Path] | None = None,
) -> list[Path]:
    """Write the whole dashboard into ``out_dir``; returns the files written (page first)."""
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    urls = vendor(out_dir, cache_dir, npm)
    written = []
    for name in STATIC_FILES:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        for placeholder, url in urls.items():
            text = text.replace(placeholder, url)
        written.append(atomic_write_text(out_dir / name, text))
    for rel, text in data_files(data).items():
        written.append(atomic_write_text(out_dir / rel, text))
    _copy_profiles(out_dir, profile_files or {})
    return written
