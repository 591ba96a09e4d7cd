"""Entry point of the ``modelway`` command: assembles the command groups and maps errors.

Start-up must stay fast: command modules import only Typer at module level and pull in
heavy libraries (pandas, sklearn, MLflow, boto3, pulumi) inside the command that needs them.
"""
from __future__ import annotations

import os
import sys

import typer

from modelway.errors import UserError

app = typer.Typer(
    name="modelway",
    help="Modelway: a governed MLOps platform kit (infra, pipelines, policies).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    if debug:
        os.environ["MODELWAY_DEBUG"] = "1"


def _register_commands() -> None:
    # One module per command group; each exposes `register(app)`.
    from modelway.cli import commands

    for module in commands.load_all():
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and exit code 2.

    Typer runs in standalone mode so usage errors (unknown option, bad value) print
    Click's one-line message with exit code 2 and ``typer.Exit(code)`` is honoured;
    our own :class:`UserError` is not a Click exception, so it propagates to here.
    """
    _register_commands()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        app(args=argv)
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
