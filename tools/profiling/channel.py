"""The instruction channel's cachegrind helpers, read from ``benchmarks/framework/instructions.py``
by its path, so the profiler counts exactly as the benchmarks do — and still finds them when the
project being profiled has a ``benchmarks`` package of its own (it would shadow this one)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

from tools.errors import ToolError

SOURCE = Path(__file__).resolve().parents[2] / "benchmarks" / "framework" / "instructions.py"


@functools.cache
def instructions() -> ModuleType:
    """The module (standard library only), loaded once under a private name."""
    spec = importlib.util.spec_from_file_location("_intellirouter_instruction_channel", SOURCE)
    if spec is None or spec.loader is None or not SOURCE.is_file():
        raise ToolError(f"{SOURCE}: the instruction channel's helpers are missing (a source checkout is needed)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
