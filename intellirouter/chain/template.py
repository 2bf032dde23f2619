"""Templates (``{{name}}`` / ``{{name.key.0}}``) and conditions of the chain engine.

A template is compiled once into literal parts and ``(root, path)`` references; the
engine renders it against a ``lookup(root)`` function. A template that is exactly one
placeholder yields the raw value (a dict stays a dict); anything else renders to text.
Conditions compile into a small tree (comparison, all/any/not, or a Python callable).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from intellirouter.chain.model import AllOf, AnyOf, Condition, Not, Problem

_PLACEHOLDER = re.compile(r"\{\{\s*([\w-]+(?:\.[\w-]+)*)\s*\}\}")
ID_PATTERN = re.compile(r"[\w-]+\Z")
MISSING = object()  # lookup(root) returns this for an undefined name


def to_text(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class TemplateError(Exception):
    """Internal: a placeholder could not be resolved at run time (the engine names the step)."""


class Template:
    """A string compiled once into literal parts and ``(root, path)`` references."""

    __slots__ = ("source", "parts", "refs", "single", "malformed")

    def __init__(self, source: str):
        self.source = source
        # split() alternates literal text and the captured placeholder body
        pieces = _PLACEHOLDER.split(source) if "{{" in source else (source,)
        parts: list = []
        refs: list = []
        malformed = False
        for k, piece in enumerate(pieces):
            if k & 1:
                root, _, rest = piece.partition(".")
                ref = (root, tuple(rest.split(".")) if rest else ())
                parts.append(ref)
                refs.append(ref)
            elif piece:
                parts.append(piece)
                if "{{" in piece:
                    malformed = True
        self.parts = tuple(parts)
        self.refs = tuple(refs)
        self.single = refs[0] if len(parts) == 1 and refs else None
        self.malformed = malformed

    @staticmethod
    def resolve(ref, lookup):
        root, path = ref
        value = lookup(root)
        if value is MISSING:
            raise TemplateError(f"'{{{{{root}}}}}' is not defined")
        for seg in path:
            try:
                if isinstance(value, Mapping):
                    value = value[seg]
                elif isinstance(value, (list, tuple)):
                    value = value[int(seg)]
                else:
                    raise KeyError(seg)
            except (KeyError, IndexError, ValueError):
                dotted = ".".join((root, *path))
                raise TemplateError(f"'{{{{{dotted}}}}}': no '{seg}' in {type(value).__name__}") from None
        return value

    def value(self, lookup):
        """The raw value for a lone placeholder, else the rendered text."""
        if self.single is not None:
            return self.resolve(self.single, lookup)
        return self.render(lookup)

    def render(self, lookup) -> str:
        if not self.refs:
            return self.source
        return "".join(p if isinstance(p, str) else to_text(self.resolve(p, lookup)) for p in self.parts)


def compile_value(value):
    """Args may nest dicts/lists; strings with placeholders become Templates."""
    if isinstance(value, str):
        return Template(value) if "{{" in value else value
    if isinstance(value, Mapping):
        return {k: compile_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [compile_value(v) for v in value]
    return value


def render_value(compiled, lookup):
    if isinstance(compiled, Template):
        return compiled.value(lookup)
    if isinstance(compiled, dict):
        return {k: render_value(v, lookup) for k, v in compiled.items()}
    if isinstance(compiled, list):
        return [render_value(v, lookup) for v in compiled]
    return compiled


def value_templates(compiled) -> Iterable:
    stack = [compiled]
    while stack:
        v = stack.pop()
        if isinstance(v, Template):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


# ---------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------


def _num(a, b):
    """Compare numbers with numeric strings numerically (model output is text)."""
    if isinstance(a, str) and isinstance(b, (int, float)):
        a = float(a)
    elif isinstance(b, str) and isinstance(a, (int, float)):
        b = float(b)
    return a, b


def _cmp(fn):
    return lambda a, b: fn(*_num(a, b))


CONDITION_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b or (not isinstance(a, type(b)) and to_text(a) == to_text(b)),
    "ne": lambda a, b: not CONDITION_OPS["eq"](a, b),
    "lt": _cmp(operator.lt),
    "le": _cmp(operator.le),
    "gt": _cmp(operator.gt),
    "ge": _cmp(operator.ge),
    "contains": lambda a, b: (b in a) if not isinstance(a, str) else to_text(b) in a,
    "not_contains": lambda a, b: not CONDITION_OPS["contains"](a, b),
    "startswith": lambda a, b: to_text(a).startswith(to_text(b)),
    "endswith": lambda a, b: to_text(a).endswith(to_text(b)),
    "in": lambda a, b: a in b,
    "matches": lambda a, b: b.search(to_text(a)) is not None,  # b precompiled
    "truthy": lambda a, b: bool(a),
    "falsy": lambda a, b: not a,
}


class _View(Mapping):
    """Read-only mapping of the values visible to a callable condition."""

    __slots__ = ("_lookup", "_keys")

    def __init__(self, lookup, keys):
        self._lookup, self._keys = lookup, keys

    def __getitem__(self, key):
        v = self._lookup(key)
        if v is MISSING:
            raise KeyError(key)
        return v

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return sum(1 for _ in self._keys())


class CompiledCondition:
    """A condition tree with templates and regexes compiled once; ``evaluate(lookup, keys)``."""

    __slots__ = ("kind", "op", "left", "right", "children", "fn")

    def __init__(self, kind, op=None, left=None, right=None, children=(), fn=None):
        self.kind, self.op, self.left, self.right = kind, op, left, right
        self.children, self.fn = children, fn

    def templates(self):
        stack = [self]
        while stack:
            c = stack.pop()
            stack.extend(c.children)
            for t in (c.left, c.right):
                if isinstance(t, Template):
                    yield t

    def evaluate(self, lookup, keys) -> bool:
        if self.kind == "cmp":
            a = self.left.value(lookup)
            b = self.right.value(lookup) if isinstance(self.right, Template) else self.right
            try:
                return bool(CONDITION_OPS[self.op](a, b))
            except (TypeError, ValueError) as exc:
                raise TemplateError(f"condition {self.op!r} cannot compare {a!r} and {b!r}: {exc}") from None
        if self.kind == "all":
            return all(c.evaluate(lookup, keys) for c in self.children)
        if self.kind == "any":
            return any(c.evaluate(lookup, keys) for c in self.children)
        if self.kind == "not":
            return not self.children[0].evaluate(lookup, keys)
        return bool(self.fn(_View(lookup, keys)))


def compile_condition(cond, problems: list, step_id) -> CompiledCondition | None:
    """Compile a condition tree, appending a Problem for each bad node instead of raising."""
    if isinstance(cond, Condition):
        if cond.op not in CONDITION_OPS:
            problems.append(
                Problem(
                    step_id, "bad_condition", f"unknown condition op {cond.op!r} (known: {', '.join(CONDITION_OPS)})"
                )
            )
            return None
        right = cond.right
        if cond.op == "matches":
            try:
                right = re.compile(to_text(right))
            except re.error as exc:
                problems.append(Problem(step_id, "bad_condition", f"invalid regex {cond.right!r}: {exc}"))
                return None
        elif isinstance(right, str) and "{{" in right:
            right = Template(right)
        if not isinstance(cond.left, str):
            problems.append(Problem(step_id, "bad_condition", "condition 'left' must be a template string"))
            return None
        return CompiledCondition("cmp", cond.op, Template(cond.left), right)
    if isinstance(cond, (AllOf, AnyOf)):
        kids = [compile_condition(c, problems, step_id) for c in cond.conditions]
        if not kids:
            problems.append(Problem(step_id, "bad_condition", f"{type(cond).__name__}() needs conditions"))
        return (
            None
            if None in kids or not kids
            else CompiledCondition("all" if isinstance(cond, AllOf) else "any", children=tuple(kids))
        )
    if isinstance(cond, Not):
        kid = compile_condition(cond.condition, problems, step_id)
        return None if kid is None else CompiledCondition("not", children=(kid,))
    if callable(cond):
        return CompiledCondition("fn", fn=cond)
    problems.append(
        Problem(
            step_id,
            "bad_condition",
            f"a condition must be Condition/AllOf/AnyOf/Not or a callable, got {type(cond).__name__}",
        )
    )
    return None
