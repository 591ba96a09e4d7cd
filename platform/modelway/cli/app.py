"""The ``modelway`` Typer app: the root options and every command, each loaded when it runs.

Imported by :mod:`modelway.cli.main` for every command line except a plain ``modelway run``
(see :mod:`modelway.cli.running`).
"""
from __future__ import annotations

import os
from typing import Any

# Typer renders help with Rich when it is installed; that import (Rich's Markdown and
# markdown-it) costs 0.3 s, twice what the whole `modelway --help` may take. Plain Click help
# lists the same commands and options. TYPER_USE_RICH=1 brings the Rich boxes back.
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # noqa: E402  (after the setting above, which Typer reads on import)
import typer.core  # noqa: E402
import typer.main  # noqa: E402

from modelway import __version__  # noqa: E402
from modelway.cli import commands  # noqa: E402


class _LazyGroup(typer.core.TyperGroup):
    """The root group: lists every command from the table in :mod:`modelway.cli.commands` and
    imports and builds a command only when it is invoked (help, suggestions and errors unchanged)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        registered = dict(self.commands)  # commands whose module is loaded already (tests, repeated main())
        self.commands = {c.name: registered.pop(c.name, None) or _Placeholder(c) for c in commands.COMMANDS}
        self.commands.update(registered)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Placeholder):
            command = typer.main.get_group(commands.load(app, command.name)).commands[command.name]
        return name, command, rest


class _Placeholder(typer.core.TyperCommand):
    """Stands for a command in the root help until it is invoked (then :class:`_LazyGroup` loads it)."""

    def __init__(self, entry: commands.Command) -> None:
        super().__init__(name=entry.name, help=entry.summary)

    def invoke(self, ctx: Any) -> Any:  # never reached: resolve_command replaces it first
        raise RuntimeError(f"command {self.name!r} was not loaded")


app = typer.Typer(
    cls=_LazyGroup,
    name="modelway",
    help="Modelway: a governed MLOps platform kit (infra, pipelines, policies).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        print(f"modelway {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Declares --debug for the help text; main() reads it (it may come anywhere on the line)."""


def _register_commands() -> None:
    """Register every command now (the CLI itself loads them one at a time, see _LazyGroup)."""
    commands.register_modules(app)


# Typer vendors Click privately (typer._click); find its ClickException through a public
# subclass instead of importing a private module.
CLICK_ERROR: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
)


def usage_error_line(exc: Exception) -> str:
    """One line for a Click usage error: which command, what is wrong, where to look."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "modelway"
    return f"error: {command}: {exc.format_message()} (see '{command} --help')"
