"""``step_context()``: what a running step can ask the runtime for."""
from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from modelway.artifacts.store import CorruptArtifact
from modelway.errors import UserError
from modelway.store.handles import artifact_store, stores  # re-exported: steps and the runner open them here

_CURRENT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("modelway_step", default=None)


@dataclass
class StepContext:
    """The running step's view of the runtime.

    Example:
        >>> from modelway import step, step_context
        >>> @step
        ... def train(epochs: int) -> int:
        ...     ctx = step_context()
        ...     start = ctx.load_checkpoint() or 0
        ...     for epoch in range(start, epochs):
        ...         ctx.save_checkpoint(epoch + 1)
        ...     ctx.log(f"trained {epochs} epochs in run {ctx.run_id}")
        ...     return epochs
    """

    run_id: str
    step_name: str
    pipeline_name: str
    home: Path
    params: dict[str, Any]
    attempt: int = 1
    # Where log lines go for display: the runner's display (in-process) or the pipe to the
    # runner (step process), so only the runner writes to the terminal. None = not shown.
    echo: Callable[[str, str], None] | None = None

    def _stores(self) -> tuple[Any, Any]:
        return stores(self.home)

    def save_checkpoint(self, obj: Any) -> str:
        """Store progress for this step of this run; returns the artifact hash."""
        run_store, artifacts = self._stores()
        ref = artifacts.put(obj)
        run_store.save_checkpoint(self.run_id, self.step_name, ref)
        return ref.hash

    def load_checkpoint(self) -> Any | None:
        """The last checkpoint saved by this step in this run (earlier attempt or before a resume), or None."""
        run_store, artifacts = self._stores()
        digest = run_store.checkpoint(self.run_id, self.step_name)
        if digest is None:
            return None
        try:
            return artifacts.get(digest)
        except (KeyError, CorruptArtifact) as exc:  # like a cache miss: start over rather than use it
            artifacts.quarantine(digest)
            self.log(f"warning: checkpoint {digest[:12]} is unusable ({exc}); starting without it")
            return None

    def attach(self, name: str, value_or_path: Any) -> str:
        """Store an extra named artifact for this step, recorded at once (kept even if the step fails).

        A ``str``/``Path`` naming an existing file or directory is stored as that file/dir.
        """
        run_store, artifacts = self._stores()
        value = value_or_path
        if isinstance(value, str) and len(value) < 4096 and os.path.exists(value):
            value = Path(value)
        ref = artifacts.put(value)
        run_store.add_attachment(self.run_id, self.step_name, name, ref)
        return ref.hash

    def attach_text(self, name: str, text: str, suffix: str = ".md") -> str:
        """Attach ``text`` (Markdown by default) as a file ending in ``suffix``; recorded at once like :meth:`attach`.

        ``modelway runs show`` lists its path, so the report opens in any viewer.

        Example:
            >>> from modelway import step, step_context
            >>> @step
            ... def report(rows: int) -> int:
            ...     step_context().attach_text("summary.md", f"# Summary\\n\\n{rows} rows")
            ...     return rows
        """
        if not isinstance(text, str):
            raise UserError(f"step {self.step_name!r}: attach_text({name!r}, ...) needs a str, got "
                            f"{type(text).__name__}; use attach() for other values")
        run_store, artifacts = self._stores()
        try:
            ref = artifacts.put_text(text, suffix)
        except ValueError as exc:
            raise UserError(f"step {self.step_name!r}: attach_text({name!r}, ...): {exc}") from None
        run_store.add_attachment(self.run_id, self.step_name, name, ref)
        return ref.hash

    def log(self, message: str) -> None:
        """Record a message in the run store (shown by ``modelway runs show``) and show it live."""
        run_store, _ = self._stores()
        run_store.log(self.run_id, self.step_name, str(message))
        if self.echo is not None:
            self.echo(self.step_name, str(message))

    def record_dataset(self, name: str, version: str, latest: bool = False) -> None:
        """Record that this step consumed dataset ``name@version`` (lineage).

        ``latest=True`` means the step asked for the newest version: a cached result of this
        step is then not reused once a newer version is registered.
        """
        run_store, _ = self._stores()
        run_store.record_dataset_usage(self.run_id, self.step_name, name, version, latest)


def step_context() -> StepContext:
    """The context of the step currently running in this process.

    Raises UserError when called outside a running step.

    Example:
        >>> from modelway import step, step_context
        >>> @step
        ... def report(x: int) -> int:
        ...     step_context().attach("summary", {"x": x})
        ...     return x
    """
    ctx = _CURRENT.get()
    if ctx is None:
        raise UserError("step_context() is only available inside a running step (called from a @step function)")
    return ctx


def current_or_none() -> StepContext | None:
    """The running step's context, or None outside a step."""
    return _CURRENT.get()


def activate(ctx: StepContext | None) -> contextvars.Token:
    """Make ``ctx`` the current step context (the executor calls this)."""
    return _CURRENT.set(ctx)


def deactivate(token: contextvars.Token) -> None:
    _CURRENT.reset(token)
