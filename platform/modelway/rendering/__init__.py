"""Render Pulumi Python programs offline under mocks: what resources they would create, with which inputs.

``render_program`` is the entry point (fresh subprocess per render). Importing this
package does not import Pulumi; only the worker process does.

Example:
    >>> from pathlib import Path
    >>> from modelway.rendering import render_program
    >>> result = render_program(Path("."), "prod", strict_invokes=True)   # doctest: +SKIP
    >>> result.outputs["region"]                                          # doctest: +SKIP
    'eu-west-1'
"""
from modelway.rendering.api import render_program
from modelway.rendering.result import RenderedResource, RenderResult

__all__ = ["RenderResult", "RenderedResource", "render_program"]
