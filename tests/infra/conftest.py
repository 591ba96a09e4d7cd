"""Fixtures for the infra tests: our Pulumi program rendered under mocks, once per environment.

The render sets the mocks (strict: any invoke they do not know fails the test) BEFORE
the program is imported, then runs ``infra/__main__.py`` as Pulumi would.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from modelway.rendering.engine import render_in_process
from modelway.rendering.project import load_program_spec
from modelway.rendering.result import RenderResult

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")

_cache: dict[str, RenderResult] = {}


def render_stack(stack: str, **config_overrides: str) -> RenderResult:
    """Render our program for ``stack`` in this process (stack config + overrides, engine string values)."""
    spec = load_program_spec(REPO_ROOT, stack)
    if config_overrides:
        spec = dataclasses.replace(spec, config={**spec.config, **config_overrides})
    return render_in_process(spec, strict_invokes=True)


@pytest.fixture(scope="session")
def rendered():
    """``rendered(env)`` -> RenderResult of that environment's stack (rendered once per session)."""

    def get(env: str) -> RenderResult:
        if env not in _cache:
            _cache[env] = render_stack(env)
        return _cache[env]

    return get


@pytest.fixture(params=ENVIRONMENTS)
def stack(request, rendered) -> RenderResult:
    """Each environment in turn."""
    return rendered(request.param)
