"""Pins on the ml_governance rules that mutation testing found loose."""
