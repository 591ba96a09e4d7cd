"""Pins on the GPU instance shapes (policies/gpu_instances.py) that mutation testing found loose."""
from __future__ import annotations
