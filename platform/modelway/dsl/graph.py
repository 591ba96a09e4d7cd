"""Building a pipeline DAG: step calls return placeholders; the graph is validated when built."""
from __future__ import annotations

import contextvars
import graphlib
import itertools
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

from modelway.artifacts.serializers import is_jsonable
from modelway.dsl.settings import StepSettings, resolve_settings
from modelway.dsl.types import UNCHECKED, is_compatible, item_annotation, type_name
from modelway.errors import DefinitionError

if typing.TYPE_CHECKING:
    from modelway.dsl.step import Step

_BUILDER: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar("modelway_builder", default=None)
_BUILD_IDS = itertools.count(1)


def current_builder() -> GraphBuilder | None:
    """The graph being built by the enclosing ``@pipeline`` call, if any."""
    return _BUILDER.get()


class OutputRef:
    """Placeholder for a step's output (or an item of it) while a pipeline is being built.

    ``out["key"]`` / ``out[0]`` select an item at run time; ``a, b = out`` works when the
    step is annotated ``-> tuple[A, B]``; ``out.after(other)`` adds an ordering edge.
    """

    __slots__ = ("node", "path")

    def __init__(self, node: StepNode, path: tuple[Any, ...] = ()) -> None:
        self.node = node
        self.path = path

    def __getitem__(self, key: Any) -> OutputRef:
        return OutputRef(self.node, self.path + (key,))

    def __iter__(self) -> Any:
        ann = self.annotation()
        if typing.get_origin(ann) is tuple and typing.get_args(ann) and Ellipsis not in typing.get_args(ann):
            return iter([self[i] for i in range(len(typing.get_args(ann)))])
        raise DefinitionError(
            f"step {self.node.name!r}: its output cannot be unpacked or iterated while the pipeline is built "
            "(annotate the step '-> tuple[A, B]' to unpack, or index it: out['key'])"
        )

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"step {self.node.name!r}: its output is not known while the pipeline is built, so it cannot be "
            "used in 'if'/'while'; branch inside a step instead"
        )

    def __len__(self) -> int:
        raise DefinitionError(f"step {self.node.name!r}: len() of an output is not known while the pipeline is built")

    def after(self, *others: OutputRef) -> OutputRef:
        """Run this step only after ``others`` finished (ordering without passing data)."""
        for other in others:
            if not isinstance(other, OutputRef):
                raise DefinitionError(f"step {self.node.name!r}: .after() takes step outputs, got {other!r}")
            self.node.after.append(other)
        return self

    def annotation(self) -> Any:
        """Annotation of the referenced value, or UNCHECKED."""
        ann = self.node.step.return_annotation()
        for key in self.path:
            try:
                ann = item_annotation(ann, key)
            except KeyError:
                return UNCHECKED
        return ann

    def select(self, value: Any) -> Any:
        """The referenced item of ``value``, the step's loaded output: dicts, tuples and DataFrames
        are indexed, dataclasses and pydantic models read by attribute."""
        for key in self.path:
            value = value[key] if hasattr(type(value), "__getitem__") else getattr(value, key)
        return value

    def label(self) -> str:
        return self.node.name + "".join(f"[{k!r}]" for k in self.path)

    def __repr__(self) -> str:
        return f"<output of step {self.label()}>"


@dataclass(eq=False)
class StepNode:
    """One call of a step inside a pipeline."""

    name: str
    step: Step
    inputs: dict[str, Any]
    settings: StepSettings
    build_id: int
    after: list[OutputRef] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)

    def refs(self) -> list[tuple[str, OutputRef]]:
        """(input name, placeholder) for every placeholder among the inputs, nested ones too."""
        found: list[tuple[str, OutputRef]] = []
        for key, value in self.inputs.items():
            for ref in iter_refs(value):
                found.append((key, ref))
        return found


def iter_refs(value: Any, kind: type = OutputRef) -> typing.Iterator[Any]:
    """Placeholders inside a value (lists, tuples, sets, dicts are searched).

    ``kind`` picks the placeholder type: step outputs by default, or e.g. dataset references.
    """
    if isinstance(value, kind):
        yield value
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from iter_refs(item, kind)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_refs(item, kind)


def has_refs(value: Any) -> bool:
    """Whether ``value`` is, or contains, a step-output placeholder."""
    return next(iter_refs(value), None) is not None


_CONTAINERS = (list, tuple, set, frozenset, dict)


def map_refs(
    value: Any,
    on_ref: Callable[[OutputRef], Any],
    *,
    on_value: Callable[[Any], Any] | None = None,
    containers: tuple[type, ...] = _CONTAINERS,
    every_container: bool = False,
    sequence: Callable[[list[Any]], Any] | None = None,
    mapping: Callable[[dict[Any, Any]], Any] | None = None,
) -> Any:
    """``value`` rebuilt with every placeholder replaced by ``on_ref(placeholder)``: the one walk
    over nested inputs and outputs that loading, cache keys, specs and reports share.

    Containers of the ``containers`` types are rebuilt when they hold a placeholder (all of
    them with ``every_container``): by ``sequence(items)`` / ``mapping(items)`` when given,
    otherwise as a plain list, tuple, dict or the same set type. Anything else, including a
    container left as it is, goes whole through ``on_value`` (unchanged by default), so
    constants such as namedtuples and dict subclasses pass through untouched.

    Example:
        >>> map_refs({"a": [1, 2]}, on_ref=str)
        {'a': [1, 2]}
    """
    def walk(item: Any) -> Any:
        if isinstance(item, OutputRef):
            return on_ref(item)
        if isinstance(item, containers) and (every_container or has_refs(item)):
            if isinstance(item, dict):
                items = {k: walk(v) for k, v in item.items()}
                return mapping(items) if mapping is not None else items
            values = [walk(v) for v in item]
            if sequence is not None:
                return sequence(values)
            if isinstance(item, list):
                return values
            return tuple(values) if isinstance(item, tuple) else type(item)(values)
        return item if on_value is None else on_value(item)

    return walk(value)


@dataclass
class PipelineGraph:
    """A validated DAG: nodes in a deterministic topological order, plus the pipeline outputs."""

    pipeline_name: str
    nodes: dict[str, StepNode]
    order: list[str]
    outputs: Any
    params: dict[str, Any]

    def to_spec(self) -> dict[str, Any]:
        """A deterministic, JSON-able description of the DAG: steps in order, their wiring
        and fully resolved settings (what backends and ``modelway run --dry-run`` consume).

        Example:
            >>> spec = my_pipeline.build().to_spec()  # doctest: +SKIP
            >>> spec["steps"][0]["upstream"]  # doctest: +SKIP
            []
        """
        def ref(value: OutputRef) -> dict[str, Any]:
            out: dict[str, Any] = {"step": value.node.name}
            if value.path:
                out["path"] = list(value.path)
            return out

        def constant(value: Any) -> dict[str, Any]:
            token = getattr(value, "__modelway_token__", None)
            if callable(token):  # e.g. a pinned dataset version
                return {"value": str(value), **token()}
            return {"value": value if is_jsonable(value) else f"<{type(value).__name__}: {value}>"}

        def wire(value: Any) -> Any:
            """An input: placeholders as {"step": ...}, the containers holding them as {"list"/"dict": ...}."""
            return map_refs(value, ref, on_value=constant, containers=(list, tuple, dict),
                            sequence=lambda items: {"list": items},
                            mapping=lambda items: {"dict": {str(k): v for k, v in items.items()}})

        def outputs(value: Any) -> Any:
            """The pipeline's return value: its own containers stay plain lists and dicts."""
            return map_refs(value, ref, on_value=constant, containers=(list, tuple, dict), every_container=True,
                            sequence=list, mapping=lambda items: {str(k): v for k, v in items.items()})

        return {
            "pipeline": self.pipeline_name,
            "params": {k: (v if is_jsonable(v) else str(v)) for k, v in self.params.items()},
            "steps": [
                {
                    "name": name,
                    "function": _function_label(self.nodes[name].step),
                    "upstream": self.nodes[name].upstream,
                    "inputs": {k: wire(v) for k, v in self.nodes[name].inputs.items()},
                    "settings": self.nodes[name].settings.as_dict(json=True),
                }
                for name in self.order
            ],
            "outputs": outputs(self.outputs),
        }

    def downstream(self, name: str) -> set[str]:
        """Every step that depends on ``name``, directly or not."""
        children: dict[str, set[str]] = {n: set() for n in self.nodes}
        for node in self.nodes.values():
            for up in node.upstream:
                children[up].add(node.name)
        seen: set[str] = set()
        stack = [name]
        while stack:
            for child in children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen


def _function_label(step: Step) -> str:
    # Functions of a pipeline file live in a generated module name; show only the function then.
    if step.fn.__module__.startswith("_mw_"):
        return step.fn.__qualname__
    return step.qualname


def _defined_at(step: Step) -> str:
    """How an error names a step's function: the user's file and line for a pipeline file
    (its module has a generated name), the dotted name for an importable module."""
    if step.fn.__module__.startswith("_mw_"):
        code = getattr(step.fn, "__code__", None)
        if code is not None:
            return f"{step.fn.__qualname__} ({code.co_filename}:{code.co_firstlineno})"
        return step.fn.__qualname__
    return step.qualname


class GraphBuilder:
    """Collects step calls made while a pipeline function runs."""

    def __init__(self, pipeline_name: str, pipeline_settings: StepSettings | None) -> None:
        self.pipeline_name = pipeline_name
        self.pipeline_settings = pipeline_settings
        self.build_id = next(_BUILD_IDS)
        self.nodes: dict[str, StepNode] = {}
        self._by_base: dict[str, Step] = {}
        self._counts: dict[str, int] = {}

    def __enter__(self) -> GraphBuilder:
        self._token = _BUILDER.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _BUILDER.reset(self._token)

    def add_step(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> OutputRef:
        owner = self._by_base.setdefault(step.name, step)
        if owner is not step:
            raise DefinitionError(
                f"duplicate step name {step.name!r}: used by {_defined_at(owner)} and {_defined_at(step)}; "
                "give one of them @step(name=...)"
            )
        count = self._counts[step.name] = self._counts.get(step.name, 0) + 1
        name = step.name if count == 1 else f"{step.name}_{count}"
        if name in self.nodes:
            raise DefinitionError(
                f"duplicate step name {name!r}: generated for a repeated call of {_defined_at(step)} but already "
                f"used by {_defined_at(self.nodes[name].step)}; rename one with @step(name=...)"
            )
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise DefinitionError(f"step {name!r}: {exc}") from None
        bound.apply_defaults()
        node = StepNode(
            name=name,
            step=step,
            inputs=dict(bound.arguments),
            settings=resolve_settings(step.settings, self.pipeline_settings),
            build_id=self.build_id,
        )
        self.nodes[name] = node
        return OutputRef(node)

    def finish(self, outputs: Any, params: dict[str, Any]) -> PipelineGraph:
        """Validate the collected calls and return the DAG."""
        graph: dict[str, set[str]] = {}
        for node in self.nodes.values():
            deps: list[str] = []
            for input_name, ref in node.refs():
                self._check_ref(node, input_name, ref)
                deps.append(ref.node.name)
            for ref in node.after:  # ordering only: the step may well return None
                self._check_produced(f"step {node.name!r}: .after()", ref, needs_value=False)
                deps.append(ref.node.name)
            node.upstream = list(dict.fromkeys(deps))
            graph[node.name] = set(node.upstream)
        for ref in iter_refs(outputs):
            self._check_produced(f"pipeline {self.pipeline_name!r} output", ref)
        try:
            graphlib.TopologicalSorter(graph).prepare()  # raises on a cycle, naming it
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            raise DefinitionError(
                f"pipeline {self.pipeline_name!r}: cycle between steps {' -> '.join(cycle)}; remove an .after() edge"
            ) from None
        # Topological order that keeps the order of the calls wherever dependencies allow.
        position = {name: i for i, name in enumerate(self.nodes)}
        order = _stable_topo(graph, position)
        return PipelineGraph(self.pipeline_name, self.nodes, order, outputs, params)

    def _check_produced(self, where: str, ref: OutputRef, needs_value: bool = True) -> None:
        node = ref.node
        if node.build_id != self.build_id or self.nodes.get(node.name) is not node:
            raise DefinitionError(
                f"{where} uses the output of step {node.name!r}, which is never produced in pipeline "
                f"{self.pipeline_name!r} (it was created outside this pipeline's body)"
            )
        if not needs_value:
            return
        ann: Any = node.step.return_annotation()
        if ann is None or ann is type(None):
            raise DefinitionError(
                f"{where} uses the output of step {node.name!r}, which produces nothing (annotated -> None)"
            )
        for key in ref.path:
            try:
                ann = item_annotation(ann, key)
            except KeyError:
                raise DefinitionError(
                    f"{where} uses {ref.label()}, which step {node.name!r} never produces "
                    f"(its return type {type_name(node.step.return_annotation())} has no item {key!r})"
                ) from None

    def _check_ref(self, node: StepNode, input_name: str, ref: OutputRef) -> None:
        self._check_produced(f"step {node.name!r} input {input_name!r}", ref)
        expected = node.step.hints().get(input_name, UNCHECKED)
        value = node.inputs[input_name]
        if value is not ref:
            expected = _element_annotation(expected, value, ref)
        produced = ref.annotation()
        if expected is not UNCHECKED and produced is not UNCHECKED and not is_compatible(produced, expected):
            raise DefinitionError(
                f"step {node.name!r} input {input_name!r} expects {type_name(expected)} but "
                f"{ref.label()} returns {type_name(produced)}"
            )


def _element_annotation(expected: Any, container: Any, ref: OutputRef) -> Any:
    """For ``f(values=[a, b])`` with ``values: list[int]``, the annotation each element must meet."""
    if expected is UNCHECKED:
        return UNCHECKED
    args = typing.get_args(expected)
    origin = typing.get_origin(expected)
    if isinstance(container, (list, set, frozenset)) and args and origin is not None and len(args) == 1:
        return args[0] if any(item is ref for item in container) else UNCHECKED
    if isinstance(container, tuple) and origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        for i, item in enumerate(container):
            if item is ref and i < len(args):
                return args[i]
    if isinstance(container, dict) and origin in (dict, typing.Mapping) and len(args) == 2:
        return args[1]
    return UNCHECKED


def _stable_topo(graph: dict[str, set[str]], position: dict[str, int]) -> list[str]:
    import heapq

    indegree = {n: len(deps) for n, deps in graph.items()}
    children: dict[str, list[str]] = {n: [] for n in graph}
    for n, deps in graph.items():
        for d in deps:
            children[d].append(n)
    heap = [(position[n], n) for n, deg in indegree.items() if deg == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, n = heapq.heappop(heap)
        order.append(n)
        for c in children[n]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(heap, (position[c], c))
    return order
