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
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    _register_commands()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        app(args=argv, standalone_mode=False)
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and anything unexpected
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            if debug:
                raise
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            print("aborted", file=sys.stderr)
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
