"""The offline-site step (tools/site.py), without network: tag rewriting and failure paths.

The full path (npm, a real `asv publish`, a browser) is in test_site_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import asv
import pytest

from tools import site
from tools.errors import ToolError

ASV_WWW = Path(asv.__file__).parent / "www"


def _asv_index() -> str:
    return (ASV_WWW / "index.html").read_text(encoding="utf-8")


def _local_map(versions=None) -> dict[str, str]:
    versions = versions or site.pinned_versions()
    return {a.url: site.vendor_path(a.package, versions[a.package], a.path) for a in site.ASSETS}


def test_assets_cover_exactly_what_installed_asv_loads():
    # fails on an asv upgrade that adds, drops or re-versions a library: update ASSETS then
    urls = {u for p in ASV_WWW.glob("*.html") for u in site.external_urls(p.read_text(encoding="utf-8"))}
    assert urls == {a.url for a in site.ASSETS}


def test_pinned_versions_are_the_ones_asv_names():
    versions = site.pinned_versions()
    declared = json.loads((site.ASSETS_DIR / "package.json").read_text())["dependencies"]
    assert versions == declared
    for asset in site.ASSETS:
        version = versions[asset.package]
        if asset.package == "stupid-table-plugin":
            # cdnjs' stupidtable 1.0.1 was never published to npm; 1.1.3 has the same API
            assert "stupidtable/1.0.1" in asset.url and version == "1.1.3"
        else:
            assert re.search(rf"[-/@]{re.escape(version)}[/.]", asset.url), (asset.url, version)


def test_rewrite_asv_index_leaves_no_external_load():
    page = site.rewrite_page(_asv_index(), _local_map())
    assert site.external_urls(page) == []
    assert '<script src="vendor/jquery@3.3.1/dist/jquery.min.js" onerror="js_load_failure()"></script>' in page
    assert '<link rel="stylesheet" href="vendor/bootstrap@3.1.1/dist/css/bootstrap.min.css">' in page
    assert "integrity=" not in page and "crossorigin" not in page
    # asv's own scripts and links are untouched; anchors to the web stay (they load nothing)
    assert 'src="asv.js"' in page and 'href="https://github.com/airspeed-velocity/asv/"' in page
    # idempotent
    assert site.rewrite_page(page, _local_map()) == page


def test_rewrite_refuses_unknown_external_library():
    page = _asv_index().replace("</head>", '<script src="https://cdn.example/new-lib.js"></script></head>')
    with pytest.raises(ToolError, match=r"https://cdn.example/new-lib.js .*update ASSETS"):
        site.rewrite_page(page, _local_map())
    assert site.external_urls("<link href='//cdn.example/x.css'>") == ["//cdn.example/x.css"]


def test_sri_matches_asv_integrity_format():
    assert site.sri(b"", "sha256") == "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert site.check_integrity(b"", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    assert not site.check_integrity(b"x", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")


def _published(tmp_path) -> Path:
    html = tmp_path / "html"
    shutil.copytree(ASV_WWW, html)
    return html


def _fake_cache(tmp_path, content=b"/* not the real file */") -> Path:
    """A vendor cache with the pinned versions installed but wrong file contents."""
    cache = tmp_path / "cache"
    for package, version in site.pinned_versions().items():
        pkg = cache / "node_modules" / package
        pkg.mkdir(parents=True)
        (pkg / "package.json").write_text(json.dumps({"name": package, "version": version}))
    for asset in site.ASSETS:
        for path in (asset.path, *asset.extra):
            f = cache / "node_modules" / asset.package / path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(content)
    return cache


def test_missing_site_is_one_clear_error(tmp_path):
    with pytest.raises(ToolError, match=r"index.html not found: run `asv publish` first"):
        site.vendor_site(tmp_path / "nothing", cache_dir=tmp_path / "cache")


def test_missing_npm_is_one_clear_error(tmp_path, monkeypatch):
    html = _published(tmp_path)
    before = (html / "index.html").read_text()
    monkeypatch.setattr(site.shutil, "which", lambda name: None)
    with pytest.raises(ToolError, match="npm not found on PATH"):
        site.vendor_site(html, cache_dir=tmp_path / "empty-cache")
    assert (html / "index.html").read_text() == before


def test_file_differing_from_asvs_is_refused_and_site_untouched(tmp_path):
    html = _published(tmp_path)
    before = (html / "index.html").read_text()
    with pytest.raises(ToolError, match=r"jquery.min.js differs from the file asv expects"):
        site.vendor_site(html, cache_dir=_fake_cache(tmp_path))
    assert (html / "index.html").read_text() == before


def test_failing_npm_reports_its_exit(tmp_path):
    html = _published(tmp_path)
    fake_npm = tmp_path / "npm"
    fake_npm.write_text("#!/bin/sh\necho 'npm ERR! network unreachable' >&2\nexit 7\n")
    fake_npm.chmod(0o755)
    with pytest.raises(ToolError, match=r"`npm ci` in .* failed \(exit 7\): npm ERR! network unreachable"):
        site.vendor_site(html, cache_dir=tmp_path / "cache", npm=str(fake_npm))


def test_unknown_library_fails_before_any_copy(tmp_path):
    html = _published(tmp_path)
    index = html / "index.html"
    index.write_text(index.read_text().replace("</head>", '<script src="https://cdn.example/x.js"></script></head>'))
    with pytest.raises(ToolError, match="cdn.example/x.js"):
        site.vendor_site(html, cache_dir=_fake_cache(tmp_path))
    assert not (html / "vendor").exists()


def test_html_dir_from_config(tmp_path):
    assert site.html_dir_from_config(tmp_path / "absent.json") == Path(".asv/html")
    conf = tmp_path / "asv.conf.json"
    conf.write_text('{\n  // asv allows comments\n  "version": 1, "repo": ".", "html_dir": ".asv/html"\n}')
    assert site.html_dir_from_config(conf) == tmp_path / ".asv/html"
    conf.write_text("{broken")
    with pytest.raises(ToolError, match="cannot read asv configuration"):
        site.html_dir_from_config(conf)
