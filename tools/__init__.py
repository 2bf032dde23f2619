"""The tools layer: load asv results into one tidy table, export CSV, detect regressions,
write reports and charts. Run as ``python -m tools <command>`` from the repository root."""
