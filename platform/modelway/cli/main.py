"""Entry point of the ``modelway`` command: assembles the command groups and maps errors.

Start-up must stay fast: command modules import only Typer at module level and pull in
heavy libraries (pandas, sklearn, MLflow, boto3, pulumi) inside the command that needs them;
benchmarks/pipeline_overhead.py prints the start-up figures.
"""
from __future__ import annotations

import os
import sqlite3
import sys
import traceback

# Typer renders help with Rich when it is installed; that import (Rich's Markdown and
# markdown-it) costs 0.3 s, twice what the whole `modelway --help` may take. Plain Click help
# lists the same commands and options. TYPER_USE_RICH=1 brings the Rich boxes back.
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # noqa: E402  (after the setting above, which Typer reads on import)

from modelway.errors import UserError

app = typer.Typer(
    name="modelway",
    help="Modelway: a governed MLOps platform kit (infra, pipelines, policies).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from modelway import __version__

        print(f"modelway {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Declares --debug for the help text; main() reads it (it may come anywhere on the line)."""


_registered = False


def _register_commands() -> None:
    # One module per command group; each exposes `register(app)`. Once per process, so
    # calling main() repeatedly (tests) does not add the groups twice.
    global _registered
    if _registered:
        return
    from modelway.cli import commands

    for module in commands.load_all():
        module.register(app)
    _registered = True


# Typer vendors Click privately (typer._click); find its ClickException through a public
# subclass instead of importing a private module.
_CLICK_ERROR: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
)


def _extra_of(module: str | None) -> str | None:
    """The optional extra that provides ``module`` (a top-level name), or None."""
    from modelway.extras import EXTRAS

    top = (module or "").split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules or (top == "botocore" and extra == "aws")),
                None)


def _usage_error_line(exc: Exception) -> str:
    """One line for a Click usage error: which command, what is wrong, where to look."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "modelway"
    return f"error: {command}: {exc.format_message()} (see '{command} --help')"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: user errors become one line on stderr and exit code 2.

    Typer runs with ``standalone_mode=False`` so that usage errors (unknown option, bad
    value) reach us and are printed as one line instead of Click's boxed usage text;
    ``typer.Exit(code)`` then comes back as the return value.
    """
    _register_commands()
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    if debug:  # accepted anywhere on the line, not only before the command
        args = ["--debug", *(a for a in args if a != "--debug")]
    if not args:
        args = ["--help"]
    try:
        result = app(args=args, standalone_mode=False, prog_name="modelway")
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except ModuleNotFoundError as exc:
        # The base install renders and checks; the ML and AWS commands need their extras.
        extra = _extra_of(exc.name)
        if extra is None or debug:
            raise
        print(f"error: this command needs {exc.name}, which the base install leaves out; "
              f"install it with: pip install 'modelway[{extra}]'", file=sys.stderr)
        sys.exit(2)
    except (OSError, sqlite3.Error) as exc:  # disk full, read-only home, unreadable store file
        from modelway.store.faults import describe

        if debug:
            traceback.print_exc()
        print(f"error: {describe(exc)}", file=sys.stderr)
        sys.exit(2)
    except _CLICK_ERROR as exc:
        if debug:
            traceback.print_exc()
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group called without a command
            print(exc.format_message())
            sys.exit(0)
        print(_usage_error_line(exc), file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
