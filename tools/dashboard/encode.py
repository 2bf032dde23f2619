"""The dashboard's data as JavaScript files the page loads with ``<script>`` (``fetch`` of a local
file is blocked under ``file://``, a script is not).

``data/meta.js`` assigns the meta tables (plain JSON) to ``window.DASHBOARD_META``;
``data/points.js`` assigns the points, packed: per column (``LAYOUT``) the little-endian 32-bit
values with their bytes split into four planes (byte shuffling: the exponent bytes of nearby
values repeat, so gzip finds them), the columns one after the other, gzip-compressed and
base64-encoded. Commit indices are delta-coded within each series. The page inflates them with
the browser's ``DecompressionStream("gzip")``; ``unpack_points`` is the same decoder in Python.
"""

from __future__ import annotations

import base64
import gzip
import json

import numpy as np

LAYOUT = (("commit", "<i4"), ("value", "<f4"), ("lo", "<f4"), ("hi", "<f4"))
META_GLOBAL = "DASHBOARD_META"
POINTS_GLOBAL = "DASHBOARD_POINTS"


def _shuffle(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr).view(np.uint8).reshape(-1, 4).T.tobytes()


def _unshuffle(raw: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.uint8).reshape(4, -1).T.copy().view(dtype).ravel()


def _deltas(commits: np.ndarray, offsets: list[int]) -> np.ndarray:
    out = np.diff(commits, prepend=0)
    starts = np.asarray(offsets[:-1], dtype=np.int64)
    starts = starts[starts < len(commits)]
    out[starts] = commits[starts]  # each series starts from an absolute index
    return out


def pack_points(points: dict) -> bytes:
    """The points columns (``data.build_data(...)["points"]``) as the gzip stream the page reads."""
    commits = np.asarray(points["commit"], dtype=np.int64)
    columns = {
        "commit": _deltas(commits, points["offsets"]).astype("<i4"),
        **{k: np.array([np.nan if v is None else v for v in points[k]], dtype="<f4") for k in ("value", "lo", "hi")},
    }
    raw = b"".join(_shuffle(columns[name].astype(dtype)) for name, dtype in LAYOUT)
    return gzip.compress(raw, compresslevel=9, mtime=0)


def unpack_points(blob: bytes, offsets: list[int]) -> dict[str, np.ndarray]:
    """``pack_points`` undone (what the page's decoder does)."""
    raw = gzip.decompress(blob)
    n = len(raw) // (4 * len(LAYOUT))
    out = {name: _unshuffle(raw[i * 4 * n : (i + 1) * 4 * n], dtype) for i, (name, dtype) in enumerate(LAYOUT)}
    commits = out["commit"].astype(np.int64)
    for a, b in zip(offsets[:-1], offsets[1:]):
        commits[a:b] = np.cumsum(commits[a:b])
    out["commit"] = commits
    return out


def _js_assign(name: str, value) -> str:
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return f"window.{name} = {text};\n"


def data_files(data: dict) -> dict[str, str]:
    """``{relative path: text}`` of the two data scripts."""
    pts = data["points"]
    packed = {
        "n": len(pts["commit"]),
        "offsets": pts["offsets"],
        "layout": [name for name, _ in LAYOUT],
        "gzip_base64": base64.b64encode(pack_points(pts)).decode("ascii"),
    }
    return {"data/meta.js": _js_assign(META_GLOBAL, data["meta"]), "data/points.js": _js_assign(POINTS_GLOBAL, packed)}
