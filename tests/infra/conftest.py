"""Fixtures for the infra tests: our Pulumi program rendered under mocks, once per environment.

The render sets the mocks (strict: any invoke they do not know fails the test) BEFORE
the program is imported, then runs ``infra/__main__.py`` as Pulumi would.
"""
from __future__ import annotations

import pytest
from infra_helpers import ENVIRONMENTS, render_stack

from modelway.rendering.result import RenderResult

_cache: dict[str, RenderResult] = {}


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
