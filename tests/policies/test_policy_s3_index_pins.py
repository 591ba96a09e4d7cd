"""Pins on policies/s3_index.py that mutation testing found loose (see `make mutate`)."""
from __future__ import annotations
