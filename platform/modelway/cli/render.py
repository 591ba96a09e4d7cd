"""``modelway render``: show the resources a stack would create, rendered offline under Pulumi mocks."""
from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from modelway.rendering import render_program
from modelway.rendering.project import find_project_dir


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def render(
    stack: str = typer.Option(..., "--stack", "-s", help="Stack (environment) to render: dev, staging, prod."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
    project_dir: Path = typer.Option(
        None, "--project-dir", "-C", help="Directory of the Pulumi project, or one inside it "
                                          "(default: the project this directory is in)."
    ),
    strict_invokes: bool = typer.Option(
        False, "--strict-invokes", help="Fail on invokes the mocks cannot answer (default: warn)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0, help="Seconds the render may take (exit 2 after)."),
) -> None:
    """Render the Pulumi program for STACK under mocks (no cloud, no Pulumi CLI) and list its resources.

    Example: modelway render --stack prod --format json
    """
    result = render_program(find_project_dir(project_dir), stack, strict_invokes=strict_invokes, timeout=timeout)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if as_json or output_format is OutputFormat.json:
        document = {
            "stack": result.stack,
            "resources": [
                {key: r.to_json()[key] for key in ("type", "name", "urn", "parent", "inputs", "provider",
                                                    "file", "line")}
                for r in result.resources
            ],
            "outputs": result.outputs,
        }
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
        return
    _print_table(result)


def _print_table(result) -> None:  # noqa: ANN001 - RenderResult, imported lazily
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Every cell is plain Text: a name like "logs[old]" or a type like "x:cat:Y" is data, not
    # Rich markup or an emoji code (as a str, Rich printed "logs" and "x🐱Y").
    by_urn = result.by_urn()
    table = Table(title=Text(f"stack {result.stack}: {result.count_label()}"), title_justify="left")
    table.add_column("type")
    table.add_column("name")
    table.add_column("parent")
    table.add_column("options")
    for resource in result.resources:
        parent = by_urn.get(resource.parent)
        options = ", ".join(flag for flag, on in (("protect", resource.protect),
                                                   ("retain", resource.retain_on_delete)) if on)
        parent_label = f"{parent.type.rsplit(':', 1)[-1]} {parent.name}" if parent else ""
        table.add_row(Text(resource.type), Text(resource.name), Text(parent_label), Text(options))
    outputs = Table(title="stack outputs", title_justify="left")
    outputs.add_column("key")
    outputs.add_column("value", overflow="fold")
    for key, value in result.outputs.items():
        outputs.add_row(Text(key), Text(value if isinstance(value, str) else json.dumps(value)))
    console = Console(width=max(Console().width, 140))
    console.print(table)
    console.print(outputs)


def register(app: typer.Typer) -> None:
    """Add ``modelway render`` to the CLI."""
    app.command("render")(render)
