"""Seeded workload builders shared by every benchmark module.

Every workload in the suite comes from here, built from ``rng(seed)`` so that two runs,
two commits and two machines measure exactly the same inputs. Builders import
``intellirouter`` lazily: a benchmark for a feature an older commit lacks raises
``NotImplementedError`` in ``setup`` (asv then skips it) instead of breaking discovery.
"""

from __future__ import annotations

import random

SEED = 20261126


def rng(salt: int | str = 0) -> random.Random:
    """A deterministic generator; ``salt`` separates independent workloads."""
    return random.Random(f"{SEED}:{salt}")


def require(module: str, *names: str):
    """Import ``names`` from ``module`` or raise NotImplementedError (asv skips the benchmark).

    Used in ``setup`` so the current benchmark code can run against older library commits.
    """
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:  # the component does not exist at this commit
        raise NotImplementedError(f"{module} is not available at this commit: {exc}") from exc
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise NotImplementedError(f"{module} lacks {', '.join(missing)} at this commit")
    values = [getattr(mod, n) for n in names]
    return values[0] if len(values) == 1 else tuple(values)


# ---- model registry and router workloads (owned by the registry/router author) ----

# ---- chain engine workloads (owned by the chain author) ----

# ---- memory workloads (owned by the memory/RAG author) ----

# ---- RAG workloads (owned by the memory/RAG author) ----
