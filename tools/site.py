"""Make the site written by ``asv publish`` self-contained (works offline and on intranets).

asv 0.6.6's ``index.html`` loads jQuery, flot (+ plugins), bootstrap, stupidtable and
blueimp-md5 from three CDNs; without internet the page only says its JavaScript failed to
load. This module fetches the same libraries from the npm registry with npm itself (versions
and tarball hashes pinned by ``tools/site_assets/package-lock.json``), copies the files the
site needs into ``<html_dir>/vendor/`` and points the ``<script>``/``<link>`` tags there.

Where a file on npm is byte-identical to asv's CDN file we check it against asv's own
``integrity`` hash (jQuery, bootstrap, orderBars, md5). cdnjs serves its own minified flot
build, so the npm package's unminified files of the same version are used; cdnjs'
stupidtable 1.0.1 is not on npm, so stupid-table-plugin 1.1.3 (same API) is used.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.errors import ToolError
from tools.io import atomic_write_with

ASSETS_DIR = Path(__file__).resolve().parent / "site_assets"
DEFAULT_CACHE_DIR = Path(".asv") / "vendor-cache"
VENDOR_SUBDIR = "vendor"


@dataclass(frozen=True)
class Asset:
    """One CDN file referenced by asv's index.html and where its npm copy lives."""

    url: str  # exactly as in asv's index.html
    package: str  # npm package name (version comes from the lock file)
    path: str  # file inside the package
    asv_integrity: str | None = None  # asv's SRI hash when the npm file is byte-identical
    extra: tuple[str, ...] = ()  # sibling files the asset loads by relative URL (fonts)


_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JSDELIVR = "https://cdn.jsdelivr.net/npm"

# Every external URL in asv 0.6.6's www/index.html (grep "https://" asv/www/*.html).
ASSETS: tuple[Asset, ...] = (
    Asset(
        "https://code.jquery.com/jquery-3.3.1.min.js",
        "jquery",
        "dist/jquery.min.js",
        "sha256-FgpCb/KJQlLNfOu91ta32o/NMZxltwRo8QtmkMRdAu8=",
    ),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.min.js", "flot", "jquery.flot.js"),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.time.min.js", "flot", "jquery.flot.time.js"),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.selection.min.js", "flot", "jquery.flot.selection.js"),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.categories.min.js", "flot", "jquery.flot.categories.js"),
    Asset(
        f"{_JSDELIVR}/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js",
        "flot-orderbars",
        "js/jquery.flot.orderBars.js",
        "sha256-OXNbT0b5b/TgglckAfR8VaJ2ezZv0dHoIeRKjYMKEr8=",
    ),
    Asset(f"{_CDNJS}/stupidtable/1.0.1/stupidtable.min.js", "stupid-table-plugin", "stupidtable.min.js"),
    Asset(
        f"{_CDNJS}/blueimp-md5/2.19.0/js/md5.min.js",
        "blueimp-md5",
        "js/md5.min.js",
        "sha512-8pbzenDolL1l5OPSsoURCx9TEdMFTaeFipASVrMYKhuYtly+k3tcsQYliOEKTmuB1t7yuzAiVo+yd7SJz+ijFQ==",
    ),
    Asset(
        f"{_JSDELIVR}/bootstrap@3.1.1/dist/js/bootstrap.min.js",
        "bootstrap",
        "dist/js/bootstrap.min.js",
        "sha256-iY0FoX8s/FEg3c26R6iFw3jAtGbzDwcA5QJ1fiS0A6E=",
    ),
    Asset(
        f"{_JSDELIVR}/bootstrap@3.1.1/dist/css/bootstrap.min.css",
        "bootstrap",
        "dist/css/bootstrap.min.css",
        "sha256-6VA0SGkrc43SYPvX98q/LhHwm2APqX5us6Vuulsafps=",
        # bootstrap.min.css loads its icon font from ../fonts/
        extra=tuple(f"dist/fonts/glyphicons-halflings-regular.{ext}" for ext in ("eot", "svg", "ttf", "woff")),
    ),
)

# A <script ...> or <link ...> start tag; attributes parsed separately.
_TAG_RE = re.compile(r"<(script|link)\b([^>]*)>", re.IGNORECASE | re.DOTALL)
_ATTR_RE = re.compile(r"""([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""", re.DOTALL)
# Attributes that only make sense for a cross-origin CDN request.
_CDN_ONLY_ATTRS = {"integrity", "crossorigin", "referrerpolicy"}


def sri(data: bytes, algorithm: str) -> str:
    """Subresource-integrity string (``sha256-<base64>``) of ``data``."""
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode('ascii')}"


def check_integrity(data: bytes, expected: str) -> bool:
    algorithm = expected.split("-", 1)[0]
    return sri(data, algorithm) == expected


def pinned_versions(lock_path: Path = ASSETS_DIR / "package-lock.json") -> dict[str, str]:
    """``{package: version}`` from the npm lock file that pins the site's libraries."""
    try:
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
        packages = lock["packages"]
    except (OSError, ValueError, KeyError) as exc:
        raise ToolError(f"{lock_path}: cannot read the pinned site libraries ({exc})") from exc
    return {
        key.removeprefix("node_modules/"): meta["version"]
        for key, meta in packages.items()
        if key.startswith("node_modules/")
    }


def vendor_path(asset_package: str, version: str, path: str) -> str:
    """Site-relative URL of a vendored file: ``vendor/<package>@<version>/<path>``."""
    return f"{VENDOR_SUBDIR}/{asset_package}@{version}/{path}"


def _parse_attrs(text: str) -> list[tuple[str, str | None]]:
    attrs = []
    for m in _ATTR_RE.finditer(text):
        name = m.group(1)
        value = next((g for g in m.group(2, 3, 4) if g is not None), None)
        attrs.append((name, value))
    return attrs


def _format_attrs(attrs: list[tuple[str, str | None]]) -> str:
    return "".join(
        f" {name}" if value is None else f' {name}="{html.escape(value, quote=True)}"' for name, value in attrs
    )


def external_urls(page: str) -> list[str]:
    """Every http(s) or protocol-relative URL a ``<script src>``/``<link href>`` loads."""
    urls = []
    for m in _TAG_RE.finditer(page):
        for name, value in _parse_attrs(m.group(2)):
            if name.lower() in ("src", "href") and value and _is_external(value):
                urls.append(html.unescape(value))
    return urls


def _is_external(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url.strip(), re.IGNORECASE))


def rewrite_page(page: str, local_urls: dict[str, str]) -> str:
    """Point every CDN ``<script>``/``<link>`` in ``page`` at its local copy.

    ``local_urls`` maps CDN URL -> site-relative URL. An external URL not in the map is an
    error (a newer asv probably added a library): the site would not be self-contained.
    """
    unknown = [u for u in external_urls(page) if u not in local_urls]
    if unknown:
        raise ToolError(
            "the published site loads files this tool does not know how to vendor: "
            + ", ".join(unknown)
            + " (asv version changed? update ASSETS in tools/site.py and tools/site_assets/package.json)"
        )

    def replace(m: re.Match) -> str:
        attrs = _parse_attrs(m.group(2))
        new_attrs = []
        changed = False
        for name, value in attrs:
            if name.lower() in ("src", "href") and value and html.unescape(value) in local_urls:
                new_attrs.append((name, local_urls[html.unescape(value)]))
                changed = True
            else:
                new_attrs.append((name, value))
        if not changed:
            return m.group(0)
        new_attrs = [(n, v) for n, v in new_attrs if n.lower() not in _CDN_ONLY_ATTRS]
        self_closing = "/" if m.group(2).rstrip().endswith("/") else ""
        return f"<{m.group(1)}{_format_attrs(new_attrs)}{self_closing}>"

    return _TAG_RE.sub(replace, page)


def _installed_version(node_modules: Path, package: str) -> str | None:
    try:
        return json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_packages(
    cache_dir: Path,
    versions: dict[str, str],
    npm: str | None = None,
    assets_dir: Path = ASSETS_DIR,
    what: str = "the offline site step fetches jQuery, flot, bootstrap, stupidtable and blueimp-md5",
) -> Path:
    """Install the packages pinned in ``assets_dir`` (package.json + package-lock.json) into
    ``cache_dir/node_modules`` with ``npm ci`` (once); ``what`` says who needs them in the error
    when npm is missing.

    Returns the ``node_modules`` path. npm verifies every tarball against the lock file's hash.
    """
    node_modules = cache_dir / "node_modules"
    if all(_installed_version(node_modules, p) == v for p, v in versions.items()):
        return node_modules
    npm = npm or shutil.which("npm")
    if not npm:
        raise ToolError(
            f"npm not found on PATH: {what} from the npm registry; install Node.js/npm (or pre-fill {node_modules})"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(Path(assets_dir) / name, cache_dir / name)
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    proc = subprocess.run(cmd, cwd=cache_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise ToolError(f"`npm ci` in {cache_dir} failed (exit {proc.returncode}): {last[0]}")
    wrong = {p: _installed_version(node_modules, p) for p, v in versions.items()}
    wrong = {p: got for p, got in wrong.items() if got != versions[p]}
    if wrong:
        raise ToolError(f"npm installed unexpected versions in {node_modules}: {wrong}")
    return node_modules


def vendor_site(html_dir: Path, cache_dir: Path = DEFAULT_CACHE_DIR, npm: str | None = None) -> list[str]:
    """Copy the libraries into ``html_dir/vendor`` and rewrite the site's html pages.

    Returns the site-relative paths written. Idempotent: a second run finds no CDN tags.
    """
    html_dir = Path(html_dir)
    index = html_dir / "index.html"
    if not index.is_file():
        raise ToolError(f"{index} not found: run `asv publish` first (or pass --html-dir)")
    pages = sorted(html_dir.glob("*.html"))
    texts = {p: p.read_text(encoding="utf-8") for p in pages}
    needed = {u for t in texts.values() for u in external_urls(t)}
    by_url = {a.url: a for a in ASSETS}
    unknown = sorted(needed - by_url.keys())
    if unknown:
        # Fail before touching anything.
        rewrite_page(" ".join(f'<script src="{u}">' for u in unknown), {})

    versions = pinned_versions()
    node_modules = ensure_packages(Path(cache_dir), versions, npm=npm)

    written: list[str] = []
    local_urls: dict[str, str] = {}
    for asset in ASSETS:
        version = versions.get(asset.package)
        if version is None:
            raise ToolError(f"{asset.package} is not pinned in {ASSETS_DIR / 'package-lock.json'}")
        for path in (asset.path, *asset.extra):
            src = node_modules / asset.package / path
            try:
                data = src.read_bytes()
            except OSError as exc:
                raise ToolError(f"{src}: missing from the npm package ({exc.strerror})") from exc
            if path == asset.path and asset.asv_integrity and not check_integrity(data, asset.asv_integrity):
                raise ToolError(
                    f"{src} differs from the file asv expects at {asset.url} "
                    f"(integrity {asset.asv_integrity}); refusing to vendor it"
                )
            rel = vendor_path(asset.package, version, path)
            dest = html_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            written.append(rel)
        local_urls[asset.url] = vendor_path(asset.package, version, asset.path)

    for page, text in texts.items():
        new = rewrite_page(text, local_urls)
        if new != text:
            _replace_keeping_mode(page, new)
    return written


def _replace_keeping_mode(page: Path, text: str) -> None:
    # The temp file of an atomic write is private (0600); a web server or Pages needs the
    # page's original permissions.
    mode = page.stat().st_mode & 0o777

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(mode)

    atomic_write_with(page, write)


def html_dir_from_config(config_path: Path = Path("asv.conf.json")) -> Path:
    """``html_dir`` from asv's configuration (relative to the config file), default ``.asv/html``."""
    if not config_path.is_file():
        return Path(".asv") / "html"
    from tools.config import read_asv_conf

    return config_path.parent / read_asv_conf(config_path).get("html_dir", "html")


__all__ = [
    "ASSETS",
    "Asset",
    "DEFAULT_CACHE_DIR",
    "check_integrity",
    "ensure_packages",
    "external_urls",
    "html_dir_from_config",
    "pinned_versions",
    "rewrite_page",
    "sri",
    "vendor_site",
]
