"""Evaluation of the regression detectors on real noise recorded on this machine.

``corpus``    the noise corpus: same-commit re-runs, raw samples, one entry per process
``inject``    disjoint process draws and injected effects (steps, gradual, variance-only)
``baselines`` asv's PR rule, asv's step detection, pandas' asv-runner rule, Otava — reproduced
``metrics``   Wilson intervals, recall / false-alarm aggregation, minimum detectable effect
``harness``   the experiments (pairwise and history) and the evaluation table

``python -m tools evaluate-detector`` runs it (``tools/commands/evaluate_detector.py``).
"""
