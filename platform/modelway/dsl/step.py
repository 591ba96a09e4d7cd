"""The ``@step`` decorator: a typed function that becomes one node of a pipeline DAG."""
from __future__ import annotations

import functools
import inspect
import re
import typing
from typing import Any, Callable, TypeVar, overload

from modelway.dsl.graph import current_builder
from modelway.dsl.preload import parse_preload
from modelway.dsl.settings import StepSettings, parse_settings
from modelway.dsl.types import UNCHECKED
from modelway.errors import DefinitionError

F = TypeVar("F", bound=Callable[..., Any])
_VALID_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")


class Step:
    """A step: calling it inside a ``@pipeline`` adds a node and returns a placeholder for its
    output; calling it anywhere else just runs the function (handy in unit tests).

    Example:
        >>> @step
        ... def add_one(x: int) -> int:
        ...     return x + 1
        >>> add_one(1)
        2
    """

    def __init__(self, fn: Callable[..., Any], settings: StepSettings, name: str | None = None,
                 preload: tuple[str, ...] = ()) -> None:
        if not callable(fn) or not hasattr(fn, "__code__"):
            raise DefinitionError(f"@step must decorate a function, got {fn!r}")
        if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            kind = "a generator" if inspect.isgeneratorfunction(fn) else "an async"
            raise DefinitionError(f"step {name or fn.__name__!r} is {kind} function; a step must return its value "
                                  "(collect a generator into a list)")
        if name is not None and not _VALID_NAME.match(name):
            raise DefinitionError(f"step name {name!r} is invalid: use letters, digits, '_', '-' or '.', "
                                  "starting with a letter or '_'")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.explicit_name = name is not None
        self.settings = settings
        self.preload = preload  # modules the runner imports before forking this step (not in the cache key)
        self.signature = inspect.signature(fn)
        self._hints: dict[str, Any] | None = None

    @property
    def qualname(self) -> str:
        """``module.function`` of the wrapped function."""
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def hints(self) -> dict[str, Any]:
        """Resolved annotations (``return`` included); unresolvable ones are left unchecked."""
        if self._hints is None:
            try:
                self._hints = typing.get_type_hints(self.fn, include_extras=True)
            except Exception:
                self._hints = {}
        return self._hints

    def return_annotation(self) -> Any:
        """The resolved return annotation, ``UNCHECKED`` when absent."""
        hints = self.hints()
        if "return" in hints:
            return hints["return"]
        return UNCHECKED

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.add_step(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<step {self.name}>"


@overload
def step(fn: F) -> F: ...
@overload
def step(*, name: str | None = None, preload: list[str] | None = None, **settings: Any) -> Callable[[F], F]: ...


def step(fn: Callable[..., Any] | None = None, *, name: str | None = None, preload: list[str] | None = None,
         **settings: Any) -> Any:
    """Declare a pipeline step; works bare or with settings.

    Settings: ``retries``, ``retry_delay`` (first back-off, doubles; ``"0s"`` retries at
    once), ``timeout`` (per attempt), ``cache`` and the resource keys of ``ResourceSettings``
    (``cpu``, ``memory``, ``gpus``, ``spot``, ``instance_type``, ``max_runtime``) or
    ``resources=ResourceSettings(...)``. Unknown settings raise ``DefinitionError`` naming the step.
    ``preload=["pandas", ...]``: in process-per-step mode the runner imports these modules
    once, right before it forks this step (only if the step really runs, not on a cache
    hit), so this and later steps inherit them instead of importing them again.

    Example:
        >>> @step(retries=2, timeout="30m", gpus=1, spot=True, memory="8Gi", cache=True)
        ... def train(rows: list[float]) -> float:
        ...     return sum(rows) / len(rows)
        >>> train.settings.resources.gpus
        1
    """

    def decorate(func: Callable[..., Any]) -> Any:
        where = f"step {name or getattr(func, '__name__', func)!r}"
        return Step(func, parse_settings(where, settings), name=name, preload=parse_preload(where, preload))

    if fn is not None:
        if settings or name is not None or preload is not None:
            raise TypeError("use @step or @step(...) with keyword settings")
        return decorate(fn)
    return decorate
