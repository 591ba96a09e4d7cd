"""Pins on the compute rules' decisions (policies/compute.py) that mutation testing found loose."""
from __future__ import annotations
