"""The ``@pipeline`` decorator: a typed function whose body wires steps into a DAG."""
from __future__ import annotations

import copy
import functools
import inspect
import json
import typing
from typing import Any, Callable, Literal

from modelway.dsl import hooks
from modelway.dsl.graph import GraphBuilder, PipelineGraph, current_builder
from modelway.dsl.preload import parse_preload
from modelway.dsl.settings import StepSettings, parse_settings
from modelway.errors import DefinitionError, UserError
from modelway.exits import ExitAttempt, exits_forbidden

Executor = Literal["process", "inprocess"]


class Pipeline:
    """A pipeline definition. ``build(params)`` runs the body with placeholders and returns
    a validated :class:`PipelineGraph`; nothing is executed.

    Example:
        >>> from modelway import step
        >>> @step
        ... def add_one(x: int) -> int:
        ...     return x + 1
        >>> @pipeline
        ... def chain(start: int = 0) -> int:
        ...     return add_one(add_one(start))
        >>> chain.build({"start": 1}).order
        ['add_one', 'add_one_2']
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None,
        settings: StepSettings,
        executor: Executor | None,
        workers: int | None,
        preload: tuple[str, ...] = (),
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.settings = settings
        self.executor = executor
        self.workers = workers
        self.preload = preload
        self._params_model: Any = None

    def _parameters(self) -> tuple[dict[str, Any], list[inspect.Parameter]]:
        """The parameters' resolved annotations and the parameters (checked, without pydantic)."""
        try:  # include_extras keeps Annotated constraints such as Field(ge=2)
            hints = typing.get_type_hints(self.fn, include_extras=True)
        except Exception as exc:  # an unresolvable annotation would silently drop validation
            raise DefinitionError(
                f"pipeline {self.name!r}: cannot resolve its parameter annotations ({exc})"
            ) from None
        params = list(inspect.signature(self.fn).parameters.values())
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            raise DefinitionError(f"pipeline {self.name!r}: *args/**kwargs parameters are not supported")
        return hints, params

    @property
    def params_model(self) -> Any:
        """The pydantic model of the pipeline's parameters (built from its signature)."""
        if self._params_model is None:
            from pydantic import ConfigDict, create_model

            hints, params = self._parameters()
            fields: dict[str, Any] = {}
            for param in params:
                default = ... if param.default is param.empty else param.default
                fields[param.name] = (hints.get(param.name, Any), default)
            model_name = "".join(part.title() for part in self.name.split("_")) + "Params"
            self._params_model = create_model(
                model_name, __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
            )
        return self._params_model

    def validate_params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Validate parameter values (already typed, or strings from the command line).

        Raises UserError with one line naming the parameter.
        """
        if not params and self._params_model is None:
            # Nothing given: the defaults, as pydantic would return them (it does not validate
            # defaults; a mutable one is copied), without importing pydantic for a plain run.
            _, parameters = self._parameters()
            if all(p.default is not p.empty for p in parameters):
                return {p.name: copy.deepcopy(p.default) for p in parameters}
        from pydantic import ValidationError

        model = self.params_model
        params = dict(params or {})
        unknown = sorted(set(params) - set(model.model_fields))
        if unknown:
            known = ", ".join(model.model_fields) or "none"
            raise UserError(f"pipeline {self.name!r}: unknown parameter {unknown[0]!r} (parameters: {known})")
        try:
            instance = model.model_validate(params)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            got = f" (got {err['input']!r})" if err["type"] != "missing" else ""
            raise UserError(f"pipeline {self.name!r}: parameter {key!r}: {err['msg']}{got}") from None
        return {k: getattr(instance, k) for k in model.model_fields}

    def parse_cli_params(self, pairs: list[str]) -> dict[str, Any]:
        """Turn ``["k=v", ...]`` into raw values: JSON where it parses (numbers, lists), else the string."""
        if not pairs:
            return {}
        fields = self.params_model.model_fields
        raw: dict[str, Any] = {}
        given: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip()
            if not sep or not key:
                raise UserError(f"--param {pair!r}: expected KEY=VALUE")
            if key in given:  # a silent "last one wins" hides typos in scripts
                raise UserError(f"--param {key} is given twice ({given[key]}, then {value}); give it once")
            given[key] = value
            field = fields.get(key)
            if field is not None and field.annotation is str:
                raw[key] = value
                continue
            try:
                raw[key] = json.loads(value)
            except ValueError:
                raw[key] = value
        return raw

    def build(self, params: dict[str, Any] | None = None) -> PipelineGraph:
        """Validate ``params`` and build the DAG by calling the body with placeholders."""
        values = self.validate_params(params)
        builder = GraphBuilder(self.name, self.settings)
        with builder:
            try:
                with exits_forbidden():
                    outputs = self.fn(**values)
            except ExitAttempt as exc:
                raise DefinitionError(f"pipeline {self.name!r}: the pipeline body called {exc.how}; a pipeline "
                                      "body must call steps and return their outputs, not exit") from None
            except (DefinitionError, UserError):
                raise
            except Exception as exc:
                raise DefinitionError(
                    f"pipeline {self.name!r}: building the DAG raised {type(exc).__name__}: {exc}"
                ) from exc
        if not builder.nodes:
            raise DefinitionError(f"pipeline {self.name!r} calls no steps")
        return builder.finish(outputs, values)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside another pipeline's body: add this pipeline's steps there (composition; step
        outputs may be passed as arguments). Anywhere else: run it in this process and return
        its outputs (convenience for notebooks and tests)."""
        if current_builder() is not None:
            return self.fn(*args, **kwargs)

        bound = inspect.signature(self.fn).bind(*args, **kwargs)
        return hooks.run_in_process(self, dict(bound.arguments))  # the runtime installed it (the DSL sits below)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


def pipeline(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    preload: list[str] | None = None,
    **settings: Any,
) -> Any:
    """Declare a pipeline; works bare or with settings that its steps inherit.

    Keyword settings are the step settings (``retries``, ``timeout``, ``cache``, resource
    keys or ``resources=ResourceSettings(...)``) used as defaults for every step, plus
    ``executor`` ("process" = one process per step, "inprocess") and ``workers``.
    ``preload=["pandas", "sklearn"]``: modules the runner imports once, right before it
    forks the first step that is not a cache hit, so every step process inherits them
    (a fully cached re-run imports none of them).
    Parameters of the function become a pydantic params model (``--param k=v``).

    Example:
        >>> from modelway import step
        >>> @step
        ... def double(x: int) -> int:
        ...     return 2 * x
        >>> @pipeline(name="doubler", resources={"cpu": 2}, retries=1)
        ... def doubler(x: int = 1) -> int:
        ...     return double(x)
        >>> doubler.build().nodes["double"].settings.retries
        1
    """
    if executor not in (None, "process", "inprocess"):
        raise DefinitionError(f"pipeline {name or fn!r}: executor must be 'process' or 'inprocess', got {executor!r}")

    def decorate(func: Callable[..., Any]) -> Pipeline:
        pname = name or func.__name__
        where = f"pipeline {pname!r}"
        return Pipeline(func, name=pname, settings=parse_settings(where, settings), executor=executor, workers=workers,
                        preload=parse_preload(where, preload))

    if fn is not None:
        return decorate(fn)
    return decorate
