"""Registries of the Python callables that function and tool steps call.

Kept apart from the engine: validating a chain against the registries needs them, not
the scheduler. Argument names are read once from the signature, so validation can check
them without calling anything.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from intellirouter.chain.model import Problem
from intellirouter.errors import ChainValidationError


@dataclass(frozen=True)
class Registered:
    name: str
    fn: Callable
    description: str
    required: frozenset[str]
    accepted: frozenset[str] | None  # None: takes **kwargs, any name goes


def _signature_sets(name: str, fn: Callable) -> tuple[frozenset, frozenset | None]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins: accept anything, fail at call time
        return frozenset(), None
    required, accepted, var_kw = set(), set(), False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            accepted.add(p.name)
            if p.default is p.empty:
                required.add(p.name)
        elif p.kind is p.POSITIONAL_ONLY and p.default is p.empty:
            raise ChainValidationError(
                [
                    Problem(
                        None,
                        "bad_callable",
                        f"'{name}': positional-only parameter '{p.name}' cannot take a named argument",
                    )
                ]
            )
    return frozenset(required), (None if var_kw else frozenset(accepted))


class CallableRegistry(Mapping):
    """Name -> Registered; the argument names are read once from the signature."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Registered] = {}

    def register(self, name: str, fn: Callable, *, description: str = "", replace: bool = False) -> Callable:
        if not isinstance(name, str) or not name.strip():
            raise ChainValidationError([Problem(None, "empty_name", f"{self.kind} name is empty")])
        if not callable(fn):
            raise ChainValidationError([Problem(None, "bad_callable", f"{self.kind} '{name}' is not callable")])
        if name in self._items and not replace:
            raise ChainValidationError(
                [Problem(None, "duplicate_callable", f"{self.kind} '{name}' is already registered (pass replace=True)")]
            )
        required, accepted = _signature_sets(name, fn)
        self._items[name] = Registered(name, fn, description or (fn.__doc__ or "").strip(), required, accepted)
        return fn

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)

    def __getitem__(self, name):
        return self._items[name]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)
