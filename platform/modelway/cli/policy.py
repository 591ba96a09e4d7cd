"""``modelway policy check | list | pack-path``: the offline policy checker (no Pulumi CLI, no cloud credentials)."""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from modelway.errors import UserError
from modelway.files import atomic_write_text
from modelway.policy_check import check_stacks, default_config, pack_dir
from modelway.policy_check.selection import Selection


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    github = "github"


FORMATS = ", ".join(f.value for f in ReportFormat)


def check(
    program_dir: Optional[Path] = typer.Argument(
        None, help="Directory of the Pulumi project (or one inside it). Default: the project the current "
                   "directory is in, found upwards as the Pulumi CLI does.", show_default=False),
    stacks: list[str] = typer.Option([], "--stack", "-s", help="Stack to render (reads Pulumi.<stack>.yaml); "
                                                             "repeat to check several in one process."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Policy pack config (--policy-pack-config format). "
                                     "Default: the pack's config.<stack>.json."),
    report_format: str = typer.Option("table", "--format", "-f", help=f"What to print: {FORMATS}."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    outputs: list[str] = typer.Option(
        [], "--output", "-o", help="Also write a report: FORMAT=PATH (repeatable, e.g. -o sarif=p.sarif "
                                   "-o junit=p.xml). A bare PATH writes the --format report there instead of stdout."),
    waivers: Optional[Path] = typer.Option(None, "--waivers", help="YAML file of reviewed exceptions."),
    checks: list[str] = typer.Option([], "--check", help="Run only these policies (repeatable, or comma-separated)."),
    skip_checks: list[str] = typer.Option([], "--skip-check", help="Do not run these policies (named in the report)."),
    min_level: str = typer.Option("advisory", "--min-level", help="Report findings at this level and above: "
                                                                  "advisory or mandatory."),
    soft_fail: bool = typer.Option(False, "--soft-fail", help="Exit 0 even with mandatory violations (the report "
                                                              "still says FAIL); render failures still exit 2."),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0, help="Seconds the render may take before it is "
                                                                    "stopped (exit 2)."),
) -> None:
    """Render the Pulumi program under mocks and check it against every Modelway policy.

    Exit code 0: no mandatory violation (or --soft-fail); 1: mandatory violations; 2: the
    program failed to render or the arguments are wrong.

    Example: modelway policy check --stack prod -o sarif=policy.sarif -o junit=policy.xml
    """
    if as_json:
        report_format = "json"
    stdout_format = _format(report_format, "--format")
    files, stdout_path = _parse_outputs(outputs, stdout_format)
    for path in [*files.values(), stdout_path]:
        if path is not None:
            _check_output_dir(path)
    selection = Selection.from_options(checks, skip_checks, min_level)
    if selection.only or selection.skip:
        _known_policies(selection)  # a typo'd name fails here, before the render
    reports = check_stacks(program_dir, list(stacks) or [None], config=config, waivers=waivers,
                           selection=selection, timeout=timeout)
    code = max(r.exit_code for r in reports)
    for fmt, path in files.items():
        _write_atomically(path, _render(reports, fmt) + "\n")
    if stdout_path is not None:
        _write_atomically(stdout_path, _render(reports, stdout_format) + "\n")
    elif stdout_format is ReportFormat.table:
        from modelway.policy_check.output import print_table

        for report in reports:
            print_table(report, sys.stdout)
    else:
        sys.stdout.write(_render(reports, stdout_format) + "\n")
    for fmt, path in [*files.items(), *([(stdout_format, stdout_path)] if stdout_path else [])]:
        mandatory = sum(len(r.mandatory) for r in reports)
        advisory = sum(len(r.violations) for r in reports) - mandatory
        print(f"{fmt.value} report written to {path} ({mandatory} mandatory, {advisory} advisory)", file=sys.stderr)
    if code and soft_fail:
        print(f"--soft-fail: {sum(len(r.mandatory) for r in reports)} mandatory violations reported, exit code 0",
              file=sys.stderr)
        code = 0
    raise typer.Exit(code)


def list_policies(
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help="Show the levels of the pack's "
                                                                   "config.<stack>.json."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Show the levels of this policy config."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List every policy of the pack: level, severity, concern, the scanner checks it mirrors.

    Example: modelway policy list --stack dev
    """
    import json

    from modelway.policy_check.config import PackSettings

    settings = PackSettings.load(config if config is not None else default_config(stack))
    from modelway.policies.catalog import ALL_POLICIES

    rows = [{"name": p.name, "kind": p.kind, "level": settings.level(p.name),
             "severity": p.severity.value if p.severity is not None else "", "concern": p.concern,
             "mirrors": list(p.mirrors), "description": p.description} for p in ALL_POLICIES]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} policies ({settings.source})", title_justify="left")
    for column in ("name", "level", "severity", "concern", "mirrors", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["level"], row["severity"], row["concern"], ", ".join(row["mirrors"]),
                      row["description"])
    Console(width=max(Console().width, 160)).print(table)


def pack_path() -> None:
    """Print the directory of the installed policy pack, for the Pulumi CLI.

    Example: pulumi preview --policy-pack "$(modelway policy pack-path)"
    """
    print(pack_dir())


def _format(value: str, flag: str) -> ReportFormat:
    # Validated here (not as a Choice) so a wrong value is the usual one-line error with exit code 2.
    try:
        return ReportFormat(value)
    except ValueError:
        raise UserError(f"{flag} {value!r}: choose one of {FORMATS}") from None


def _parse_outputs(values: list[str], stdout_format: ReportFormat) -> tuple[dict[ReportFormat, Path], Path | None]:
    """``FORMAT=PATH`` values as {format: path}; a bare ``PATH`` redirects the --format report (at most one)."""
    files: dict[ReportFormat, Path] = {}
    bare: list[Path] = []
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name in {f.value for f in ReportFormat}:
            fmt = ReportFormat(name)
            if not path:
                raise UserError(f"--output {value}: missing the path after {name}=")
            if fmt in files:
                raise UserError(f"--output {value}: {name} is already written to {files[fmt]}")
            files[fmt] = Path(path)
        elif sep and "/" not in name and "." not in name:
            raise UserError(f"--output {value}: unknown format {name!r}; choose one of {FORMATS}")
        else:
            bare.append(Path(value))
    if len(bare) > 1:
        raise UserError(f"--output: several plain paths ({', '.join(map(str, bare))}); "
                        "name each report's format: -o sarif=PATH -o junit=PATH")
    return files, (bare[0] if bare else None)


def _known_policies(selection: Any) -> None:
    from modelway.policies.catalog import ALL_POLICIES

    selection.validate(p.name for p in ALL_POLICIES)


def _render(reports: list[Any], report_format: ReportFormat) -> str:
    """All stacks' reports in one document of ``report_format``."""
    if report_format is ReportFormat.sarif:
        import json

        from modelway.policy_check.sarif import to_sarif_log

        return json.dumps(to_sarif_log(reports), indent=2)
    if report_format is ReportFormat.junit:
        from modelway.policy_check.output import to_junit

        return to_junit(reports)
    if report_format is ReportFormat.github:
        from modelway.policy_check.output import to_github

        return to_github(reports)
    if report_format is ReportFormat.table:
        import io

        from modelway.policy_check.output import print_table

        buffer = io.StringIO()
        for report in reports:
            print_table(report, buffer)
        return buffer.getvalue().rstrip("\n")
    from modelway.policy_check.output import to_json_text

    return to_json_text(reports[0] if len(reports) == 1 else reports)


def _check_output_dir(path: Path) -> None:
    # Checked before rendering (the user should not wait for a render to learn the path is
    # wrong), and never created: a typo in a CI path should fail, not grow a directory tree.
    if not path.parent.is_dir():
        if path.parent.exists():
            raise UserError(f"{path}: {path.parent} is not a directory")
        raise UserError(f"{path}: directory {path.parent} does not exist; create it first")


def _write_atomically(path: Path, text: str) -> None:
    _check_output_dir(path)
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report there ({exc.strerror})") from None


def register(app: typer.Typer) -> None:
    """Add ``modelway policy check | list | pack-path`` to the CLI."""
    policy_app = typer.Typer(help="Policy as code: check Pulumi programs against the Modelway policy pack.",
                             no_args_is_help=True)
    policy_app.command("check")(check)
    policy_app.command("list")(list_policies)
    policy_app.command("pack-path")(pack_path)
    app.add_typer(policy_app, name="policy")
