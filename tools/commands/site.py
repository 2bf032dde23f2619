"""``python -m tools site``: make the published asv site work without internet."""

from __future__ import annotations

from pathlib import Path

from tools import site

NAME = "site"
HELP = (
    "after `asv publish`: vendor the site's JavaScript/CSS (jQuery, flot, bootstrap, stupidtable, "
    "blueimp-md5) from the npm registry into <html-dir>/vendor and rewrite the CDN tags"
)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--html-dir",
        type=Path,
        default=None,
        help="the published site (default: html_dir from asv.conf.json, else .asv/html)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=site.DEFAULT_CACHE_DIR,
        help="where npm installs the pinned packages once (default: %(default)s, git-ignored)",
    )
    parser.add_argument("--config", type=Path, default=Path("asv.conf.json"), help="asv configuration file")


def run(args) -> int:
    html_dir = args.html_dir or site.html_dir_from_config(args.config)
    written = site.vendor_site(html_dir, cache_dir=args.cache_dir)
    print(f"site: {len(written)} files vendored into {html_dir / site.VENDOR_SUBDIR}; {html_dir} works offline")
    return 0
