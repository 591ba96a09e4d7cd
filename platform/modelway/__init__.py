"""Modelway: a governed MLOps platform kit."""
