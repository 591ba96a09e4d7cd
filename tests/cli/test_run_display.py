"""The run's progress display (``modelway.runtime.display``): the plain log lines, the live Rich
table and the outputs shown after a run, for fixed step states (the clock is pinned)."""
from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.live import Live

from modelway.runtime import display
from modelway.runtime.display import (MAX_OUTPUT_LINES, MAX_VALUE_CHARS, NullDisplay, PlainDisplay, RichDisplay,
                                      make_display, output_lines)

ARTIFACT = {"artifact": "0123456789abcdef", "kind": "pickle"}


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """time.monotonic() returns now[0]."""
    now = [100.0]
    monkeypatch.setattr(display.time, "monotonic", lambda: now[0])
    return now


# -- output_lines ---------------------------------------------------------------------------------

def test_output_lines_unfold_a_single_dict_result_and_name_artifacts() -> None:
    assert output_lines(None) == [] and output_lines({}) == []
    assert output_lines({"result": {"model": "credit-risk", "version": "1.2.0"}}) == [
        "model: credit-risk", "version: 1.2.0"]
    assert output_lines({"result": 11}) == ["result: 11"]
    # an artifact result is one value, not a dict to unfold; several outputs are never unfolded
    assert output_lines({"result": ARTIFACT}) == ["result: <pickle artifact 0123456789ab>"]
    assert output_lines({"result": {"a": 1}, "other": 2}) == ['result: {"a": 1}', "other: 2"]
    assert output_lines({"model": {"artifact": "x"}}) == ['model: {"artifact": "x"}']  # no kind: not an artifact
    assert output_lines({"model": {"kind": "x"}}) == ['model: {"kind": "x"}']


def test_output_values_are_one_line_json_and_cut_at_the_limit() -> None:
    assert MAX_VALUE_CHARS == 120
    assert output_lines({"result": {"text": "two\n  lines\there", "n": [1, 2.5, None], "é": ["ü"]}}) == [
        "text: two lines here", 'n: [1, 2.5, null]', 'é: ["ü"]']
    exact, over = "x" * 120, "y" * 121
    assert output_lines({"a": exact, "b": over}) == [f"a: {exact}", f"b: {'y' * 117}..."]
    assert output_lines({"a": {"path": object}}) == ["a: {\"path\": \"<class 'object'>\"}"]


def test_at_most_twenty_output_lines_the_last_says_how_many_more() -> None:
    assert MAX_OUTPUT_LINES == 20
    twenty = {f"k{i}": i for i in range(20)}
    assert output_lines(twenty) == [f"k{i}: {i}" for i in range(20)]
    lines = output_lines({**twenty, "k20": 20})
    assert lines == [f"k{i}: {i}" for i in range(19)] + ["... and 2 more (all of them: runs show --json)"]
    assert output_lines({f"k{i}": i for i in range(25)})[-1] == "... and 6 more (all of them: runs show --json)"


# -- PlainDisplay ---------------------------------------------------------------------------------

def test_plain_display_prints_one_line_per_event(clock, capsys) -> None:
    out = io.StringIO()
    d = PlainDisplay(out)
    d.start("r-1", "training", ["a", "b"])
    d.start("r-1", "training", ["a"], resumed=True)
    d.update("a", "running", {"attempt": 1})
    d.update("a", "pending")
    d.update("a", "succeeded", {"duration_s": 1.234, "attempt": 1})
    d.update("b", "cached", {"duration_s": 0.0})
    d.update("c", "retrying", {"attempt": 2, "error": "timeout"})
    d.update("c", "failed", {"attempt": 3, "error": "boom", "duration_s": 2.0})
    d.update("d", "skipped")
    d.update("e", "weird", {"attempt": 1})
    d.update("f", "succeeded", {"duration_s": None})
    d.update("g", "succeeded", {"duration_s": 0.5, "attempt": 2})
    d.log("a", "hello")
    clock[0] += 12.5
    d.finish("failed", "step c failed", {"result": {"x": 1}})
    d.finish("succeeded")
    assert out.getvalue().splitlines() == [
        "run r-1: pipeline training (2 steps)",
        "resuming r-1: pipeline training (1 step)",
        "         ok  a 1.23s",
        "     cached  b",
        "      retry  c (attempt 2): timeout",
        "     FAILED  c (attempt 3): boom",
        "    skipped  d",
        "      weird  e",
        "         ok  f",
        "         ok  g 0.50s (attempt 2)",
        "failed in 12.50s: step c failed",
        "  x: 1",
        "succeeded in 12.50s",
    ]
    assert capsys.readouterr().err == "  [a] hello\n"


def test_plain_display_flushes_every_line() -> None:
    # a CI log shows each step as it ends, not when a buffer fills
    class Stream(io.StringIO):
        flushed: list[str] = []

        def flush(self) -> None:
            self.flushed.append(self.getvalue())

    stream = Stream()
    d = PlainDisplay(stream)
    d.start("r", "p", ["a"])
    d.update("a", "failed", {"error": "x"})
    assert stream.flushed[-2:] == ["run r: pipeline p (1 step)\n", "run r: pipeline p (1 step)\n     FAILED  a: x\n"]


def test_plain_display_writes_to_stdout_by_default(capsys) -> None:
    PlainDisplay().start("r-2", "p", [])
    assert capsys.readouterr().out == "run r-2: pipeline p (0 steps)\n"


def test_null_display_shows_nothing(capsys) -> None:
    d = NullDisplay()
    assert d.refresh_s is None
    d.start("r", "p", ["a"])
    d.update("a", "failed", {"error": "x"})
    d.log("a", "m")
    d.tick()
    d.finish("failed", "x", {"a": 1})
    assert capsys.readouterr() == ("", "")


def test_make_display_picks_by_kind_and_terminal(monkeypatch) -> None:
    assert type(make_display("plain")) is PlainDisplay
    assert type(make_display("none")) is NullDisplay
    assert type(make_display("rich")) is RichDisplay
    monkeypatch.setattr(display.sys, "stdout", io.StringIO())  # not a terminal
    assert type(make_display("auto")) is PlainDisplay
    tty = io.StringIO()
    tty.isatty = lambda: True
    monkeypatch.setattr(display.sys, "stdout", tty)
    assert type(make_display("auto")) is RichDisplay


# -- RichDisplay ----------------------------------------------------------------------------------

def _rich(clock, *, colour: bool = False) -> tuple[RichDisplay, io.StringIO]:
    d = RichDisplay()
    assert d.refresh_s == 0.25
    out = io.StringIO()
    d.console = Console(file=out, width=120, color_system="standard" if colour else None, force_terminal=colour,
                        legacy_windows=False)
    d.live = Live(console=d.console, auto_refresh=False, transient=False)
    return d, out


def test_rich_display_draws_on_the_terminal_from_the_main_thread_only() -> None:
    d = RichDisplay()
    assert isinstance(d.console, Console) and d.live.console is d.console
    # no refresh thread (the runner forks step processes) and the last table stays on screen
    assert (d.live.auto_refresh, d.live.transient) == (False, False)
    d.tick()  # before start: nothing to draw
    assert d.rows == {}


def _cells(table) -> list[tuple[str, ...]]:
    return list(zip(*(list(column.cells) for column in table.columns)))


def test_rich_table_rows_for_each_step_state(clock) -> None:
    d, _ = _rich(clock)
    d.start("r-9", "training", ["load", "fit", "gate", "[x]"], resumed=True)
    assert d.title == "resuming r-9 · training"
    table = d._render()
    assert [c.header for c in table.columns] == ["step", "status", "attempt", "duration", "note"]
    assert [c.overflow for c in table.columns] == ["ellipsis"] * 4 + ["fold"]
    assert table.title == "resuming r-9 · training" and table.title_justify == "left" and table.expand is False
    assert _cells(table) == [(n, "[dim]pending[/]", "", "", "") for n in ("load", "fit", "gate", "\\[x]")]
    assert [r.style for r in table.rows] == ["dim"] * 4

    d.update("load", "running", {"attempt": 1})
    clock[0] += 2.26
    d.update("fit", "retrying", {"attempt": 2, "error": "e" * 130, "duration_s": 0.5})
    d.update("gate", "failed", {"attempt": 1, "error": "f" * 130 + " [bad]", "duration_s": 1.0})
    d.update("[x]", "skipped", {"error": "upstream failed"})
    assert _cells(d._render()) == [
        ("load", "[bold blue]running[/]", "1", "2.3s", ""),
        ("fit", "[yellow]retrying[/]", "2", "0.50s", "e" * 120),
        ("gate", "[bold red]failed[/]", "1", "1.00s", "f" * 130 + " \\[bad]"),
        ("\\[x]", "[dim]skipped[/]", "", "", "upstream failed"),
    ]
    assert [r.style for r in d._render().rows] == [None, None, None, "dim"]
    d.update("fit", "running", {"attempt": 3})  # a new attempt clears the last error
    d.update("new", "cancelled")
    d.update("odd", "[odd]")  # a status without a style is shown as it is
    cells = _cells(d._render())
    assert cells[1] == ("fit", "[bold blue]running[/]", "3", "0.0s", "") and cells[4] == ("new", "[magenta]cancelled[/]", "", "", "")
    assert cells[5] == ("odd", "\\[odd]", "", "", "")
    d.live.stop()


def test_rich_styles_of_every_status() -> None:
    assert RichDisplay.STYLE == {"succeeded": "green", "cached": "cyan", "failed": "bold red", "retrying": "yellow",
                                 "running": "bold blue", "cancelled": "magenta", "skipped": "dim", "pending": "dim",
                                 "reused": "cyan"}
    assert display.SYMBOL == {"succeeded": "ok", "cached": "cached", "failed": "FAILED", "retrying": "retry",
                              "cancelled": "cancelled", "skipped": "skipped", "running": "running", "pending": "pending",
                              "reused": "reused"}


def test_rich_each_event_redraws_the_table_at_once(clock) -> None:
    d, out = _rich(clock, colour=True)
    d.start("r-5", "training", ["load"])
    assert d.title == "run r-5 · training"
    assert "run r-5 · training" in out.getvalue() and "pending" in out.getvalue()
    d.update("load", "retrying", {"attempt": 2, "error": "flaky"})
    assert "flaky" in out.getvalue()
    d.rows["load"]["error"] = "changed"  # what finish draws is the final state
    d.finish("failed", "step 'load' failed")
    assert "changed" in out.getvalue()


def test_rich_lines_keep_their_styles_and_numbers_plain(clock) -> None:
    d, out = _rich(clock, colour=True)
    d.start("r", "p", [])
    d.log("fit", "read 3 rows in 0.5s")
    clock[0] += 2
    d.finish("succeeded", None, {"rows": 3, "note": ""})
    d2, out2 = _rich(clock, colour=True)
    d2.start("r", "p", [])
    d2.finish("failed", "step 'fit' failed after 3 tries")
    lines = out.getvalue().splitlines() + out2.getvalue().splitlines()

    def printed(text: str) -> bool:  # a line ends with it (Live's cursor moves may come before it)
        return any(line.endswith(text) for line in lines)

    assert printed("\x1b[2mfit\x1b[0m read 3 rows in 0.5s")
    assert printed("\x1b[32msucceeded\x1b[0m in 2.00s")
    assert printed("  \x1b[1mrows\x1b[0m: 3") and "  note: " in lines
    assert lines[-1].endswith("\x1b[31mfailed\x1b[0m in 0.00s: step 'fit' failed after 3 tries")


def test_rich_tick_redraws_only_while_a_step_runs(clock, monkeypatch) -> None:
    d, _ = _rich(clock)
    d.start("r", "p", ["a"])
    drawn = []
    monkeypatch.setattr(d.live, "update", lambda table, refresh: drawn.append(refresh))
    d.tick()
    assert drawn == []
    d.rows["a"]["status"] = "running"
    d.rows["a"]["since"] = clock[0]
    d.tick()
    assert drawn == [True]
    d.live.stop()


def test_rich_finish_prints_status_time_and_outputs(clock) -> None:
    d, out = _rich(clock)
    d.start("r-1", "p", ["a"])
    d.log("a[1]", "read [3] rows")
    d.update("a", "succeeded", {"attempt": 1, "duration_s": 0.5})
    clock[0] += 3.5
    d.finish("succeeded", None, {"result": {"model": "m [v2]", "n": 3, "long": "z" * 120}})
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert "a[1] read [3] rows" in lines
    # (Live leaves the last frame without a newline on a non-terminal; a terminal gets a cursor move)
    assert lines[-4].endswith("succeeded in 3.50s") and lines[-3:] == ["  model: m [v2]", "  n: 3", "  long: " + "z" * 120]
    d2, out2 = _rich(clock)
    d2.start("r-2", "p", [])
    d2.finish("failed", "step [a] failed", {f"k{i}": i for i in range(21)})
    lines = [line.rstrip() for line in out2.getvalue().splitlines()]
    assert lines[-21].endswith("failed in 0.00s: step [a] failed") and lines[-20] == "  k0: 0"
    assert lines[-1] == "  ... and 2 more (all of them: runs show --json)"
