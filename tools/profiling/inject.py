"""Slow a known library function down, in source text (pure: source in, source out).

The injection is a loop of ``k`` iterations of integer arithmetic put before the first
statement of the function's body (after its docstring): it changes no result and costs the
function itself (its *self* time and bytecodes), as a few extra operations per call would.
"""

from __future__ import annotations

import ast

LOOP = "for _injected_i in range({k}):\n{indent}    _injected_x = _injected_i * 3"
BYTECODES_PER_ITERATION = 7  # FOR_ITER STORE_FAST LOAD_FAST LOAD_CONST BINARY_OP STORE_FAST JUMP_BACKWARD


def _find(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The function (or method) with this qualified name (``Class.method``, ``outer.<locals>.inner``)."""
    parts = [p for p in qualname.split(".") if p != "<locals>"]
    scope: list[ast.stmt] = tree.body
    found = None
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        kinds = (
            (ast.FunctionDef, ast.AsyncFunctionDef) if last else (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        )
        found = next((n for n in scope if isinstance(n, kinds) and n.name == part), None)
        if found is None:
            raise ValueError(f"no {qualname} in the source ({part!r} not found)")
        scope = found.body
    return found


def _first_statement(func: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt:
    """The body's first statement after the docstring (or the docstring when it is all)."""
    body = func.body
    doc = (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    return body[1] if doc and len(body) > 1 else body[0]


def inject(source: str, qualname: str, k: int) -> str:
    """``source`` with ``k`` loop iterations added at the start of ``qualname``'s body."""
    if k < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    func = _find(ast.parse(source), qualname)
    first = _first_statement(func)
    if first.lineno == func.lineno:
        raise ValueError(f"{qualname} is a one-line function: nowhere to put the loop")
    # a decorated statement starts at its first decorator
    start = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", ()))])
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    loop = indent + LOOP.format(k=k, indent=indent) + "\n"
    return "".join(lines[: start - 1]) + loop + "".join(lines[start - 1 :])


def iterations_for(share: float, body_s: float, calls: float, iteration_s: float) -> int:
    """Loop iterations per call of the function that add ``share`` of the body's time, the
    function being called ``calls`` times per body call."""
    if calls <= 0 or iteration_s <= 0:
        raise ValueError("the function is not called by the benchmark body")
    return max(1, round(share * body_s / (calls * iteration_s)))


def iteration_seconds(repeat: int = 5) -> float:
    """CPU seconds of one iteration of the injected loop (best of ``repeat``), measured here
    with the clock the calibration uses for a body call (the thread's CPU time)."""
    import time
    import timeit

    k = 100_000
    stmt = LOOP.format(k=k, indent="")
    return min(timeit.repeat(stmt, number=1, repeat=repeat, timer=time.thread_time)) / k
