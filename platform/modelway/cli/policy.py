"""``modelway policy check``: the offline policy checker (no Pulumi CLI, no cloud credentials)."""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"


def check(
    program_dir: Optional[Path] = typer.Argument(
        None, help="Directory of a Pulumi Python program (holds Pulumi.yaml). Default: this repository's infra.",
        show_default=False),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help="Stack to render (reads Pulumi.<stack>.yaml)."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Policy pack config (--policy-pack-config format). "
                                     "Default: policies/config.<stack>.json."),
    report_format: str = typer.Option("table", "--format", "-f", help="table, json, sarif or junit."),
    waivers: Optional[Path] = typer.Option(None, "--waivers", "-w", help="YAML file of reviewed exceptions."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file "
                                                                         "(default: stdout)."),
) -> None:
    """Render PROGRAM_DIR under Pulumi mocks and check it against every Modelway policy.

    Exit code 0: no mandatory violation; 1: mandatory violations; 2: the program failed to
    render or the arguments are wrong.

    Example: modelway policy check --stack prod --format sarif --output policy.sarif
    """
    from modelway.errors import UserError
    from modelway.policy_check import check_program

    # Validated here (not as a Choice) so a wrong value is the usual one-line error with exit code 2.
    try:
        report_format = ReportFormat(report_format)
    except ValueError:
        raise UserError(f"--format {report_format!r}: choose one of table, json, sarif, junit") from None
    if output is not None:
        _check_output_dir(output)
    report = check_program(program_dir, stack, config=config, waivers=waivers)
    if report_format is ReportFormat.table and output is None:
        from modelway.policy_check.output import print_table

        print_table(report, sys.stdout)
        raise typer.Exit(report.exit_code)
    text = _render(report, report_format)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        _write_atomically(output, text + "\n")
        print(f"{report_format.value} report written to {output} "
              f"({len(report.mandatory)} mandatory, {len(report.violations) - len(report.mandatory)} advisory)",
              file=sys.stderr)
    raise typer.Exit(report.exit_code)


def _render(report, report_format: ReportFormat) -> str:  # noqa: ANN001 - Report, imported lazily
    if report_format is ReportFormat.sarif:
        import json

        from modelway.policy_check.sarif import to_sarif

        return json.dumps(to_sarif(report, artifact_uri=report.program or "Pulumi.yaml"), indent=2)
    if report_format is ReportFormat.junit:
        from modelway.policy_check.output import to_junit

        return to_junit(report)
    if report_format is ReportFormat.table:
        import io

        from modelway.policy_check.output import print_table

        buffer = io.StringIO()
        print_table(report, buffer)
        return buffer.getvalue().rstrip("\n")
    from modelway.policy_check.output import to_json_text

    return to_json_text(report)


def _check_output_dir(path: Path) -> None:
    from modelway.errors import UserError

    # Checked before rendering (the user should not wait for a render to learn the path is
    # wrong), and never created: a typo in a CI path should fail, not grow a directory tree.
    if not path.parent.is_dir():
        if path.parent.exists():
            raise UserError(f"{path}: {path.parent} is not a directory")
        raise UserError(f"{path}: directory {path.parent} does not exist; create it first")


def _write_atomically(path: Path, text: str) -> None:
    from modelway.errors import UserError
    from modelway.files import atomic_write_text

    _check_output_dir(path)
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report there ({exc.strerror})") from None


def register(app: typer.Typer) -> None:
    """Add ``modelway policy check`` to the CLI."""
    policy_app = typer.Typer(help="Policy as code: check Pulumi programs against the Modelway policy pack.",
                             no_args_is_help=True)
    policy_app.command("check")(check)
    app.add_typer(policy_app, name="policy")
