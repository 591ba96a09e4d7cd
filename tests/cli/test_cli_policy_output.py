"""``modelway policy check``'s options, outputs and exit codes, in-process, with the render
replaced by fixed reports (the checker itself is tested in tests/policies): which report goes to
stdout and which to files, the summary lines on stderr, --soft-fail, and the one-line refusals
that come before any render."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import modelway.cli.policy as policy
from modelway.policy_check.report import Finding, Report

from tests.cli.cli_inprocess import invoke

MANDATORY = Finding("kms-key-rotation", "mandatory", "aws:kms/key:Key", "urn:k", "k", "rotation is off", "infra/kms.py", 7)
ADVISORY = Finding("cost-tags", "advisory", "aws:s3/bucket:Bucket", "urn:b", "b", "no cost-center tag")


@pytest.fixture()
def rendered(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """check_stacks returns state["reports"] and records its arguments in state["calls"]."""
    state: dict[str, Any] = {"calls": [], "reports": [Report(resources=3, violations=[MANDATORY, ADVISORY], stack="dev")]}

    def check_stacks(program_dir: Any, stacks: list, **kwargs: Any) -> list[Report]:
        state["calls"].append((program_dir, stacks, kwargs))
        return state["reports"]

    monkeypatch.setattr(policy, "check_stacks", check_stacks)
    return state


def test_json_to_stdout_and_every_other_format_to_files(capsys, rendered: dict, tmp_path: Path) -> None:
    sarif, junit, github, table = (tmp_path / n for n in ("p.sarif", "p.xml", "p.txt", "p.table"))
    done = invoke(capsys, "policy", "check", str(tmp_path), "-s", "dev", "--json", "-o", f"sarif={sarif}",
                  "-o", f"junit={junit}", "--output", f"github={github}", "-o", f"table={table}", "--timeout", "9",
                  "-c", "cfg.json", "--waivers", "w.yaml")
    assert done.code == 1
    assert json.loads(done.out) == rendered["reports"][0].to_json()
    assert done.err.splitlines() == [
        f"sarif report written to {sarif} (1 mandatory, 1 advisory)",
        f"junit report written to {junit} (1 mandatory, 1 advisory)",
        f"github report written to {github} (1 mandatory, 1 advisory)",
        f"table report written to {table} (1 mandatory, 1 advisory)",
    ]
    assert json.loads(sarif.read_text())["runs"][0]["results"][0]["ruleId"] == "kms-key-rotation"
    assert sarif.read_text().startswith('{\n  "')  # indented by two
    assert junit.read_text().startswith("<?xml") and junit.read_text().endswith("</testsuites>\n")
    assert "infra/kms.py" in github.read_text() and github.read_text().endswith("\n")
    assert "rotation is off" in table.read_text() and not table.read_text().endswith("\n\n")
    [(program_dir, stacks, kwargs)] = rendered["calls"]
    assert (program_dir, stacks) == (tmp_path, ["dev"])
    assert (kwargs["config"], kwargs["waivers"], kwargs["timeout"]) == (Path("cfg.json"), Path("w.yaml"), 9.0)
    selection = kwargs["selection"]
    assert (selection.only, selection.skip, selection.min_level) == ((), (), "advisory")


def test_a_bare_output_path_takes_the_stdout_report(capsys, rendered: dict, tmp_path: Path) -> None:
    rendered["reports"].append(Report(resources=1, stack="prod"))
    out = tmp_path / "all.json"
    done = invoke(capsys, "policy", "check", "-s", "dev", "-s", "prod", "-f", "json", "-o", str(out))
    assert (done.code, done.out) == (1, "")
    assert done.err == f"json report written to {out} (1 mandatory, 1 advisory)\n"
    assert [r["stack"] for r in json.loads(out.read_text())] == ["dev", "prod"]
    assert rendered["calls"][0][:2] == (None, ["dev", "prod"])


def test_soft_fail_reports_but_exits_0(capsys, rendered: dict) -> None:
    done = invoke(capsys, "policy", "check", "--format", "github", "--soft-fail")
    assert done.code == 0
    assert "kms-key-rotation" in done.out
    assert done.err == "--soft-fail: 1 mandatory violations reported, exit code 0\n"
    assert rendered["calls"][0][1] == [None]
    rendered["reports"] = [Report(resources=1, violations=[ADVISORY])]
    clean = invoke(capsys, "policy", "check", "--soft-fail", "--format", "junit")
    assert (clean.code, clean.err) == (0, "")


def test_the_table_goes_to_stdout_per_stack(capsys, rendered: dict) -> None:
    rendered["reports"] = [Report(resources=2, violations=[ADVISORY], stack="dev"), Report(resources=1, stack="prod")]
    done = invoke(capsys, "policy", "check", "-s", "dev", "-s", "prod", "--min-level", "mandatory",
                  "--check", "s3-tls-only,kms-key-rotation", "--skip-check", "s3-versioning")
    assert done.code == 0 and done.err == ""
    assert "no cost-center tag" in done.out and "dev" in done.out and "prod" in done.out
    selection = rendered["calls"][0][2]["selection"]
    assert (selection.only, selection.skip, selection.min_level) == (("s3-tls-only", "kms-key-rotation"),
                                                                     ("s3-versioning",), "mandatory")


@pytest.mark.parametrize("args, message", [
    (["-f", "xml"], "--format 'xml': choose one of table, json, sarif, junit, github"),
    (["-o", "sarif="], "--output sarif=: missing the path after sarif="),
    (["-o", "sarif=a.sarif", "-o", "sarif=b.sarif"], "--output sarif=b.sarif: sarif is already written to a.sarif"),
    (["-o", "pdf=a.pdf"], "--output pdf=a.pdf: unknown format 'pdf'; choose one of table, json, sarif, junit, github"),
    (["-o", "a.json", "-o", "b.json"], "--output: several plain paths (a.json, b.json); name each report's format: "
                                       "-o sarif=PATH -o junit=PATH"),
    (["-o", "missing/dir/a.json"], "missing/dir/a.json: directory missing/dir does not exist; create it first"),
    (["--check", "no-such-policy"], "--check: unknown policy no-such-policy (see `modelway policy list`)"),
    (["--skip-check", "nope"], "--skip-check: unknown policy nope (see `modelway policy list`)"),
])
def test_bad_options_are_refused_before_the_render(capsys, rendered: dict, args: list[str], message: str) -> None:
    done = invoke(capsys, "policy", "check", *args)
    assert (done.code, done.out, done.err) == (2, "", f"error: {message}\n")
    assert rendered["calls"] == []


def test_output_paths_with_equals_signs_or_dots_are_plain_paths(tmp_path: Path) -> None:
    files, bare = policy._parse_outputs([f"{tmp_path}/a=b.json"], policy.ReportFormat.json)
    assert (files, bare) == ({}, Path(f"{tmp_path}/a=b.json"))
    files, bare = policy._parse_outputs(["x.y=z", "junit=j.xml"], policy.ReportFormat.table)
    assert (files, bare) == ({policy.ReportFormat.junit: Path("j.xml")}, Path("x.y=z"))


def test_an_output_whose_folder_is_a_file(capsys, rendered: dict, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    done = invoke(capsys, "policy", "check", "-o", f"sarif={tmp_path / 'f' / 'p.sarif'}")
    assert done.err == f"error: {tmp_path / 'f' / 'p.sarif'}: {tmp_path / 'f'} is not a directory\n"


def test_a_report_that_cannot_be_written(capsys, rendered: dict, tmp_path: Path, monkeypatch) -> None:
    def refuse(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(policy, "atomic_write_text", refuse)
    done = invoke(capsys, "policy", "check", "-o", f"sarif={tmp_path / 'p.sarif'}")
    assert (done.code, done.err) == (2, f"error: {tmp_path / 'p.sarif'}: cannot write the report there (Permission denied)\n")


def test_policy_list_and_pack_path(capsys) -> None:
    text = invoke(capsys, "policy", "list", "--stack", "prod", "--json").out
    assert text.startswith('[\n  {\n    "name": ')
    rows = json.loads(text)
    assert {"name", "kind", "level", "severity", "concern", "mirrors", "description"} == set(rows[0])
    assert any(r["level"] == "mandatory" for r in rows)
    table = invoke(capsys, "policy", "list", "-s", "dev")
    assert table.out.startswith(f"{len(rows)} policies (") and rows[0]["name"] in table.out
    assert max(len(line) for line in table.out.splitlines()) == 160  # at least 160 columns, even in a pipe
    assert Path(invoke(capsys, "policy", "pack-path").out.strip()) == policy.pack_dir()
    from modelway.policies.catalog import ALL_POLICIES

    assert [(r["name"], r["severity"], r["mirrors"]) for r in rows] == [
        (p.name, p.severity.value, list(p.mirrors)) for p in ALL_POLICIES]


def test_policy_list_of_a_config_file(capsys, tmp_path: Path, monkeypatch) -> None:
    from rich.console import Console

    config = tmp_path / "levels.json"
    config.write_text('{"s3-tls-only": {"enforcementLevel": "advisory"}}')
    rows = json.loads(invoke(capsys, "policy", "list", "-c", str(config), "--json").out)
    assert {r["name"]: r["level"] for r in rows}["s3-tls-only"] == "advisory"  # mandatory in the pack's configs
    printed = []
    monkeypatch.setattr(Console, "print", lambda self, table: printed.append(table))
    invoke(capsys, "policy", "list", "--config", str(config))
    [table] = printed
    assert [c.header for c in table.columns] == ["name", "level", "severity", "concern", "mirrors", "description"]
    assert {c.overflow for c in table.columns} == {"fold"} and table.title_justify == "left"
    assert str(config) in table.title and table.title.startswith(f"{len(rows)} policies (")
    cells = list(zip(*(list(c.cells) for c in table.columns)))
    assert cells[0] == (rows[0]["name"], rows[0]["level"], rows[0]["severity"], rows[0]["concern"],
                        ", ".join(rows[0]["mirrors"]), rows[0]["description"])
    assert len(rows[0]["mirrors"]) > 1
