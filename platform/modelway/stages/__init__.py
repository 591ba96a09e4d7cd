"""Reusable ML lifecycle stages: validation, training, tracking, evaluation, fairness, robustness, model cards."""
