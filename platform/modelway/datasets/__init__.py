"""Deterministic dataset generators (no downloads): credit risk, plus sklearn's bundled sets."""
