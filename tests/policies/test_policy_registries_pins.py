"""Pins on the registries rules that mutation testing found loose."""
