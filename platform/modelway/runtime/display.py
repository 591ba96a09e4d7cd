"""Progress display of a run: Rich live table on a terminal, plain log lines otherwise."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

SYMBOL = {"succeeded": "ok", "cached": "cached", "failed": "FAILED", "retrying": "retry", "cancelled": "cancelled",
          "skipped": "skipped", "running": "running", "pending": "pending", "reused": "reused"}


class NullDisplay:
    """Shows nothing (``--json`` and library use)."""

    refresh_s: float | None = None  # how often the runner should call tick() while steps run

    def tick(self) -> None: ...
    def start(self, run_id: str, pipeline: str, steps: list[str], resumed: bool = False) -> None: ...
    def update(self, step: str, status: str, info: dict[str, Any] | None = None) -> None: ...
    def log(self, step: str, message: str) -> None: ...
    def finish(self, status: str, error: str | None = None, outputs: dict[str, Any] | None = None) -> None: ...


MAX_OUTPUT_LINES = 20
MAX_VALUE_CHARS = 120


def output_lines(outputs: dict[str, Any] | None) -> list[str]:
    """The pipeline's outputs as short ``key: value`` lines (shown after a successful run).

    A single dict result is unfolded one key per line; long values are cut, stored
    artifacts are named by kind and hash, and at most ``MAX_OUTPUT_LINES`` lines are shown.

    Example:
        >>> output_lines({"result": {"model": "credit-risk", "version": "1.2.0"}})
        ['model: credit-risk', 'version: 1.2.0']
        >>> output_lines({"result": 11})
        ['result: 11']
    """
    if not outputs:
        return []
    items = outputs
    if list(outputs) == ["result"] and isinstance(outputs["result"], dict) and not _is_artifact(outputs["result"]):
        items = outputs["result"]
    lines = [f"{key}: {_short(value)}" for key, value in items.items()]
    if len(lines) > MAX_OUTPUT_LINES:
        more = len(lines) - MAX_OUTPUT_LINES + 1
        lines = lines[:MAX_OUTPUT_LINES - 1] + [f"... and {more} more (all of them: runs show --json)"]
    return lines


def _is_artifact(value: Any) -> bool:
    return isinstance(value, dict) and "artifact" in value and "kind" in value


def _short(value: Any) -> str:
    if _is_artifact(value):
        return f"<{value['kind']} artifact {str(value['artifact'])[:12]}>"
    if isinstance(value, str):
        text = value
    else:
        import json

        text = json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())  # one line
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 3] + "..."


class PlainDisplay(NullDisplay):
    """One line per event: good for logs and CI."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.t0 = time.monotonic()
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, run_id: str, pipeline: str, steps: list[str], resumed: bool = False) -> None:
        verb = "resuming" if resumed else "run"
        self._print(f"{verb} {run_id}: pipeline {pipeline} ({len(steps)} step{'' if len(steps) == 1 else 's'})")

    def update(self, step: str, status: str, info: dict[str, Any] | None = None) -> None:
        info = info or {}
        if status in ("running", "pending"):
            return
        detail = ""
        if info.get("duration_s") is not None and status == "succeeded":
            detail = f" {info['duration_s']:.2f}s"
        if info.get("attempt", 1) > 1:
            detail += f" (attempt {info['attempt']})"
        if info.get("error"):
            detail += f": {info['error']}"
        self._print(f"  {SYMBOL.get(status, status):>9}  {step}{detail}")

    def log(self, step: str, message: str) -> None:
        # steps may log from several threads (in-process): one locked write per line
        with self._lock:
            sys.stderr.write(f"  [{step}] {message}\n")
            sys.stderr.flush()

    def finish(self, status: str, error: str | None = None, outputs: dict[str, Any] | None = None) -> None:
        self._print(f"{status} in {time.monotonic() - self.t0:.2f}s" + (f": {error}" if error else ""))
        for line in output_lines(outputs):
            self._print(f"  {line}")


class RichDisplay(NullDisplay):
    """Live table of step states and durations; refreshed from the main thread only (fork-safe)."""

    refresh_s = 0.25

    STYLE = {"succeeded": "green", "cached": "cyan", "failed": "bold red", "retrying": "yellow",
             "running": "bold blue", "cancelled": "magenta", "skipped": "dim", "pending": "dim", "reused": "cyan"}

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console()
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.rows: dict[str, dict[str, Any]] = {}
        self.title = ""
        self.t0 = time.monotonic()

    def _render(self) -> Any:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=self.title, title_justify="left", expand=False)
        for col in ("step", "status", "attempt", "duration", "note"):
            table.add_column(col, overflow="fold" if col == "note" else "ellipsis")
        now = time.monotonic()
        for name, row in self.rows.items():
            status = row["status"]
            if status == "running":
                dur = f"{now - row['since']:.1f}s"
            elif row.get("duration_s") is not None:
                dur = f"{row['duration_s']:.2f}s"
            else:
                dur = ""
            note = row.get("error") or ""
            style = self.STYLE.get(status)  # a status without a style (none today) is shown plain, not as broken markup
            table.add_row(escape(name), f"[{style}]{status}[/]" if style else escape(status), str(row.get("attempt", "")), dur,
                          # a failing step's message is said only here during a live run: keep it whole
                          escape(note if status == "failed" else note[:120]), style="dim" if status in ("pending", "skipped") else None)
        return table

    def start(self, run_id: str, pipeline: str, steps: list[str], resumed: bool = False) -> None:
        self.title = f"{'resuming' if resumed else 'run'} {run_id} · {pipeline}"
        self.rows = {s: {"status": "pending"} for s in steps}
        self.live.start()
        self.live.update(self._render(), refresh=True)

    def log(self, step: str, message: str) -> None:
        # printed above the live table, which Rich redraws below it (Console locks internally)
        from rich.markup import escape

        self.console.print(f"[dim]{escape(step)}[/] {escape(message)}", highlight=False, markup=True)

    def tick(self) -> None:
        if any(row["status"] == "running" for row in self.rows.values()):
            self.live.update(self._render(), refresh=True)

    def update(self, step: str, status: str, info: dict[str, Any] | None = None) -> None:
        row = self.rows.setdefault(step, {})
        if status == "running":
            row.pop("error", None)
        row.update(info or {})
        if status == "running":
            row["since"] = time.monotonic()
        row["status"] = status
        self.live.update(self._render(), refresh=True)

    def finish(self, status: str, error: str | None = None, outputs: dict[str, Any] | None = None) -> None:
        self.live.update(self._render())  # the final state; stop() draws it (a non-transient Live refreshes on stop)
        self.live.stop()
        style = "green" if status == "succeeded" else "red"
        from rich.markup import escape

        self.console.print(f"[{style}]{status}[/] in {time.monotonic() - self.t0:.2f}s"
                           + (f": {escape(error)}" if error else ""), highlight=False)
        for line in output_lines(outputs):
            key, _, value = line.partition(": ")
            self.console.print(f"  [bold]{escape(key)}[/]: {escape(value)}" if value else f"  {escape(line)}",
                               highlight=False, soft_wrap=True)


def make_display(kind: str) -> NullDisplay:
    """``auto`` = Rich on a terminal, plain otherwise; or ``rich``/``plain``/``none``."""
    if kind == "auto":
        kind = "rich" if sys.stdout.isatty() else "plain"
    if kind == "rich":
        return RichDisplay()
    if kind == "plain":
        return PlainDisplay()
    return NullDisplay()
