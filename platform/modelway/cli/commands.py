"""The command table: every top-level command, the module that defines it, and the summary
``modelway --help`` lists. Add a command here and in its module's ``register(app)``.

A command's module is imported only when that command runs (:func:`load`), so ``modelway
--help`` and ``modelway run`` do not import (or convert to Click) the other twenty commands;
``tests/cli/test_command_table.py`` checks that this table says what the modules register.
Each module keeps heavy imports inside its command functions.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


@dataclass(frozen=True)
class Command:
    """A top-level command as the root help lists it."""

    name: str
    modules: tuple[str, ...]  # the modules whose register(app) define it, in order
    summary: str  # the first paragraph of its help: what `modelway --help` shortens to one line


_RUNS = "modelway.cli.pipeline_runs"
_MODELS = "modelway.cli.models"
_SERVING = "modelway.cli.serving"
_MONITORING = "modelway.cli.monitoring"

# In the order `modelway --help` lists them (Typer lists commands, then groups, in registration order).
COMMANDS: tuple[Command, ...] = (
    Command("render", ("modelway.cli.render",),
            "Render the Pulumi program for STACK under mocks (no cloud, no Pulumi CLI) and list its resources."),
    Command("run", (_RUNS,), "Run a pipeline (on the embedded default, or against a stack). Exit code 0 = "
                             "succeeded, 1 = a step failed,\n2 = invalid definition/usage."),
    Command("resume", (_RUNS,), "Continue a run: steps that finished are reused, the others run (same run id)."),
    Command("serve", (_SERVING,), "Serve a model over HTTP: POST /invocations, GET /ping /health /metrics."),
    Command("deploy", (_SERVING,),
            "Roll a registered version out with guardrails; a breach rolls it back automatically (exit 1)."),
    Command("rollback", (_SERVING,), "Send all traffic back to the previous version (instant: it is still loaded)."),
    Command("promote", (_SERVING,), "End an A/B test or shadow run by giving the candidate all traffic."),
    Command("feedback", (_SERVING,), "Record ground-truth labels for served requests (online accuracy for "
                                     "guardrails, A/B tests, monitor)."),
    Command("monitor", (_MONITORING,), "Drift (PSI, KS, chi-square), data quality, labelled accuracy, staleness, "
                                       "latency; exit 1 when an alert fired."),
    Command("baseline", (_MONITORING,), "Compute a version's baseline profile from its training data (versions "
                                        "registered before profiles existed)."),
    Command("explain", ("modelway.cli.explain",),
            "Explain one prediction: the row after each preprocessing stage and each feature's contribution\n"
            "(exact coefficients for linear models, exact Shapley values otherwise)."),
    Command("policy", ("modelway.cli.policy",),
            "Policy as code: check Pulumi programs against the Modelway policy pack."),
    Command("runs", (_RUNS, _MODELS), "Inspect pipeline runs."),  # `runs report` comes from cli/models.py
    Command("data", (_RUNS,), "Register datasets as immutable, content-addressed versions."),
    Command("lineage", (_RUNS,), "Trace which runs and models used which data."),
    Command("models", (_MODELS,), "Registered model versions and their approvals."),
    Command("audit", (_MODELS,), "The hash-chained audit log of registry and approval events."),
    Command("stack", ("modelway.cli.stack",), "The provisioned stack a command runs against (--stack / --outputs)."),
    Command("deployments", (_SERVING,), "Endpoints: routing state, per-variant numbers, decision history."),
    Command("triggers", (_MONITORING,), "Continuous training: launch pipelines when their triggers fire."),
    Command("export", ("modelway.cli.export",), "Export pipelines to other orchestrators."),
)
BY_NAME = {command.name: command for command in COMMANDS}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(m for command in COMMANDS for m in command.modules))

_registered: set[str] = set()


def register_modules(app: typer.Typer, modules: tuple[str, ...] = COMMAND_MODULES) -> None:
    """Import ``modules`` and let each add its commands to ``app`` (each once per process)."""
    for name in modules:
        if name not in _registered:
            importlib.import_module(name).register(app)
            _registered.add(name)


def load(app: typer.Typer, name: str) -> typer.Typer:
    """A Typer app holding only the top-level command ``name``, its module registered into ``app``.

    Converting just this one to Click (not all twenty) is part of what keeps start-up short.
    """
    import typer

    register_modules(app, BY_NAME[name].modules)
    single = typer.Typer()
    single.registered_commands = [info for info in app.registered_commands if _info_name(info) == name]
    single.registered_groups = [info for info in app.registered_groups if info.name == name]
    return single


def _info_name(info: typer.models.CommandInfo) -> str | None:
    return info.name or (info.callback.__name__.replace("_", "-") if info.callback is not None else None)
