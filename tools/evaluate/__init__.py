"""Evaluation of the regression detectors on real noise recorded on this machine.

``config``    ``EvalConfig`` and the shared constants (location tolerance, prefix grid, budgets, day sd)
``corpus``    the noise corpus: same-commit re-runs, raw samples, one entry per process
``inject``    disjoint process draws and injected effects (steps, gradual, variance-only)
``baselines`` asv's PR rule, asv's step detection, pandas' asv-runner rule, Otava — reproduced
``metrics``   Wilson intervals, recall / false-alarm aggregation, minimum detectable effect
``daily``     the daily history with day effects: pooled rounds vs interleaved sessions
``harness``   the experiments (pairwise, whole-suite A/A, instructions, history) and their tables
``report``    the evaluation as Markdown and CSV

``python -m tools evaluate-detector`` runs it (``tools/commands/evaluate_detector.py``).
"""
