"""Regression detection as plain functions over plain series (pairwise, history, anomalies)."""
