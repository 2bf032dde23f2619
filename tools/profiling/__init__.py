"""Profiling a benchmark's body at one or two revisions (``python -m tools profile``).

The API for reports is ``profile_flagged`` (never raises) and ``ProfileOutcome``; see
``tools.profiling.api`` and docs/profiling.md.
"""

from tools.profiling.api import Options, ProfileOutcome, TopFunction, profile_benchmark, profile_flagged

__all__ = ["Options", "ProfileOutcome", "TopFunction", "profile_benchmark", "profile_flagged"]
