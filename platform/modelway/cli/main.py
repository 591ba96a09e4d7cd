"""Entry point of the ``modelway`` command: dispatches the command line and maps errors.

Start-up must stay fast: a plain ``modelway run FILE ...`` goes straight to
:mod:`modelway.cli.running` without Typer; everything else builds the Typer app
(:mod:`modelway.cli.app`), which loads only the command it runs. Command modules pull in
heavy libraries (pandas, sklearn, MLflow, boto3, pulumi) inside the command that needs them;
benchmarks/pipeline_overhead.py prints the start-up figures.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Any

from modelway.errors import UserError
from modelway.extras import EXTRAS

# pydantic looks for plugins (importlib.metadata entry points of every installed distribution)
# when the first model is built: about 10% of a small `modelway run`. Modelway uses none;
# PYDANTIC_DISABLE_PLUGINS=0 (or a list of names) brings them back, for steps that need one.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")


def __getattr__(name: str) -> Any:
    """``app`` and ``_register_commands`` (tests, tools) come from :mod:`modelway.cli.app`, loaded on use."""
    if name in ("app", "_register_commands"):
        from modelway.cli import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _NeverRaised(Exception):
    """Stands in an ``except`` clause for a Typer/Click error while Typer is not loaded."""


def _abort_error() -> type[BaseException]:
    typer = sys.modules.get("typer")
    return typer.Abort if typer is not None else _NeverRaised


def _click_error() -> type[BaseException]:
    app = sys.modules.get("modelway.cli.app")
    return app.CLICK_ERROR if app is not None else _NeverRaised


def _extra_of(module: str | None) -> str | None:
    """The optional extra that provides ``module`` (a top-level name), or None."""
    top = (module or "").split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules or (top == "botocore" and extra == "aws")),
                None)


def _sqlite_error() -> type[Exception]:
    """sqlite3.Error once a command opened a store (sqlite3 is not imported just to start the CLI)."""
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3.Error if sqlite3 is not None else OSError


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: user errors become one line on stderr and exit code 2.

    Typer runs with ``standalone_mode=False`` so that usage errors (unknown option, bad
    value) reach us and are printed as one line instead of Click's boxed usage text;
    ``typer.Exit(code)`` then comes back as the return value.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    fast = None
    if "run" in args:  # maybe a plain `modelway run`; the module (and the stack modules) only then
        from modelway.cli import running

        fast = running.parse_fast([a for a in args if a != "--debug"])
    if debug:  # accepted anywhere on the line, not only before the command
        args = ["--debug", *(a for a in args if a != "--debug")]
    if not args:
        args = ["--help"]
    try:
        if fast is not None:  # a plain `modelway run`: no Typer app to build
            running.run(**fast)
            result = 0
        else:
            from modelway.cli.app import app

            result = app(args=args, standalone_mode=False, prog_name="modelway")
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except _abort_error():
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
    except (OSError, _sqlite_error()) as exc:  # disk full, read-only home, unreadable store file
        from modelway.store.faults import describe  # imports sqlite3, which --help never needs

        if debug:
            traceback.print_exc()
        print(f"error: {describe(exc)}", file=sys.stderr)
        sys.exit(2)
    except _click_error() as exc:
        if debug:
            traceback.print_exc()
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group called without a command
            print(exc.format_message())
            sys.exit(0)
        from modelway.cli.app import usage_error_line  # loaded already: it raised the error

        print(usage_error_line(exc), file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
