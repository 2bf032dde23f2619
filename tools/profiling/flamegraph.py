"""Flame graphs as self-contained SVG (pure: stacks in, SVG text out; opens from file://).

One frame per function on a call path, root at the bottom, width proportional to the
function's cumulative value on that path, children in name order (so base and head graphs
line up). Every name and tooltip is XML-escaped: a function may be called ``<script>``.

- a side: colours tell where a function lives (library, benchmark code, standard library
  and packages, C builtins);
- differential: frames are the head's, coloured by the change of their *own* (self) value
  on that path: red grew, blue shrank, white unchanged, the strongest colour for the largest
  change in the graph (Brendan Gregg's red/blue differential flame graph). Paths that only
  exist at base have no width here; they show in the base graph.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape

from tools.profiling.profiles import Func

WIDTH = 1200
FRAME_H = 17
PAD_X = 10
PAD_TOP = 48
PAD_BOTTOM = 10
MIN_PX = 0.3  # narrower frames (and everything above them) are left out
CHAR_PX = 6.6  # average glyph width of the 11px monospace labels


@dataclass
class Node:
    func: Func | None
    base: float = 0.0  # cumulative on this path
    head: float = 0.0
    base_self: float = 0.0
    head_self: float = 0.0
    children: dict[Func, Node] = field(default_factory=dict)


def build_tree(base: Mapping[tuple, float], head: Mapping[tuple, float]) -> Node:
    """One tree holding both sides' stacks (either side may be empty)."""
    root = Node(None)
    for stacks, side in ((base, "base"), (head, "head")):
        for stack, value in stacks.items():
            node = root
            setattr(node, side, getattr(node, side) + value)
            for func in stack:
                node = node.children.setdefault(func, Node(func))
                setattr(node, side, getattr(node, side) + value)
            setattr(node, f"{side}_self", getattr(node, f"{side}_self") + value)
    return root


def _origin_colour(func: Func) -> str:
    """Warm for the library, green for benchmark code, grey-blue for stdlib/packages, grey for C."""
    file, name = func
    jitter = zlib.crc32(name.encode("utf-8")) % 20
    if file == "~":
        return f"hsl(210, 8%, {70 + jitter // 2}%)"
    if file.startswith("<"):
        return f"hsl(200, 35%, {68 + jitter // 2}%)"
    if file.startswith("benchmarks/"):
        return f"hsl({100 + jitter}, 45%, 62%)"
    return f"hsl({18 + jitter}, 85%, {58 + jitter // 3}%)"


def _diff_colour(delta: float, largest: float) -> str:
    if largest <= 0 or delta == 0:
        return "hsl(0, 0%, 94%)"
    strength = min(abs(delta) / largest, 1.0)
    hue = 0 if delta > 0 else 220
    return f"hsl({hue}, {int(30 + 60 * strength)}%, {int(94 - 40 * strength)}%)"


def _largest_self_change(node: Node) -> float:
    best = abs(node.head_self - node.base_self) if node.func else 0.0
    for child in node.children.values():
        best = max(best, _largest_self_change(child))
    return best


def _depth(node: Node, scale: float) -> int:
    deeper = [_depth(c, scale) for c in node.children.values() if c.head * scale >= MIN_PX]
    return 1 + max(deeper, default=0)


def _label(func: Func | None) -> str:
    return "all" if func is None else func[1]


def _tooltip(node: Node, fmt: Callable[[float], str], total: float, diff: bool, lines: Mapping) -> str:
    name = _label(node.func)
    where = ""
    if node.func is not None and node.func[0] != "~":
        line = lines.get(node.func)
        where = f" — {node.func[0]}" + (f":{line}" if line else "")
    share = f"{node.head / total * 100:.1f}%" if total else "—"
    text = f"{name}{where}\n{fmt(node.head)} ({share}), self {fmt(node.head_self)}"
    if diff:
        d_cum, d_self = node.head - node.base, node.head_self - node.base_self
        text += f"\nbase {fmt(node.base)}, self {fmt(node.base_self)}"
        text += f"\nchange {'+' if d_cum >= 0 else '−'}{fmt(abs(d_cum))}, self {'+' if d_self >= 0 else '−'}{fmt(abs(d_self))}"
    return text


def _frame(node: Node, x: float, y: float, w: float, fill: str, tip: str) -> str:
    label = _label(node.func)
    fits = int((w - 6) / CHAR_PX)
    text = ""
    if fits >= 3:
        shown = label if len(label) <= fits else label[: fits - 1] + "…"
        text = f'<text x="{x + 3:.1f}" y="{y + FRAME_H - 5:.1f}">{escape(shown)}</text>'
    return (
        f'<g><title>{escape(tip)}</title><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
        f'height="{FRAME_H - 1}" fill="{fill}" rx="1"/>{text}</g>'
    )


def _frames(node: Node, ctx: dict, x: float, depth: int, out: list[str]) -> None:
    w = node.head * ctx["scale"]
    if w < MIN_PX:
        return
    y = ctx["height"] - PAD_BOTTOM - (depth + 1) * FRAME_H
    if ctx["diff"]:
        fill = _diff_colour(node.head_self - node.base_self, ctx["largest"])
    else:
        fill = "hsl(0, 0%, 85%)" if node.func is None else _origin_colour(node.func)
    out.append(_frame(node, x, y, w, fill, _tooltip(node, ctx["fmt"], ctx["total"], ctx["diff"], ctx["lines"])))
    for func in sorted(node.children, key=lambda f: (f[1], f[0])):
        child = node.children[func]
        _frames(child, ctx, x, depth + 1, out)
        x += child.head * ctx["scale"]


def render(
    root: Node,
    *,
    title: str,
    subtitle: str,
    fmt: Callable[[float], str],
    diff: bool = False,
    lines: Mapping | None = None,
) -> str:
    """The SVG document of ``root``'s head side (plus base, coloured, when ``diff``)."""
    total = root.head
    scale = (WIDTH - 2 * PAD_X) / total if total > 0 else 0.0
    depth = _depth(root, scale) if total > 0 else 1
    height = PAD_TOP + depth * FRAME_H + PAD_BOTTOM
    ctx = {"scale": scale, "height": height, "diff": diff, "fmt": fmt, "total": total, "lines": lines or {}}
    ctx["largest"] = _largest_self_change(root) if diff else 0.0
    body: list[str] = []
    if total > 0:
        _frames(root, ctx, PAD_X, 0, body)
    else:
        body.append(f'<text x="{PAD_X}" y="{PAD_TOP + 12}">nothing measured</text>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">\n'
        "<style>text { pointer-events: none; fill: #1b1f23; } g:hover rect { stroke: #1b1f23; stroke-width: 0.8; }</style>\n"
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>\n'
        f'<text x="{PAD_X}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>\n'
        f'<text x="{PAD_X}" y="36">{escape(subtitle)}</text>\n' + "\n".join(body) + "\n</svg>\n"
    )


def side_svg(stacks: Mapping[tuple, float], *, title: str, subtitle: str, fmt, lines: Mapping | None = None) -> str:
    return render(build_tree({}, stacks), title=title, subtitle=subtitle, fmt=fmt, lines=lines)


def diff_svg(
    base: Mapping[tuple, float],
    head: Mapping[tuple, float],
    *,
    title: str,
    subtitle: str,
    fmt,
    lines: Mapping | None = None,
) -> str:
    return render(build_tree(base, head), title=title, subtitle=subtitle, fmt=fmt, diff=True, lines=lines)
