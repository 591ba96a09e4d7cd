"""One flag style across commands: a short flag means the same long option everywhere, and every
command that prints data can print it as JSON (--json)."""
from __future__ import annotations

import typer

from modelway.cli.main import _register_commands, app

# Commands whose output is not data: an HTML file, a directory path for the Pulumi CLI, files they
# write (a baseline profile, a SageMaker pipeline definition), long-running loops (a server, a watcher).
NOT_DATA = {"runs report", "policy pack-path", "baseline", "export sagemaker", "serve", "triggers watch"}


def commands():
    _register_commands()

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    return list(walk(typer.main.get_command(app), []))


def test_a_short_flag_means_one_long_option_everywhere():
    meanings: dict[str, set[str]] = {}
    for _name, command in commands():
        for param in command.params:
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if len(o) == 2):
                meanings.setdefault(short, set()).update(longs)
    clashes = {short: sorted(longs) for short, longs in meanings.items() if len(longs) > 1}
    assert clashes == {}


def test_every_command_that_prints_data_accepts_json():
    missing = [name for name, command in commands()
               if name not in NOT_DATA and "--json" not in {o for p in command.params for o in p.opts}]
    assert missing == []
