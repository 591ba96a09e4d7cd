"""Refusing silent exits from user code: ``sys.exit``/``SystemExit``/``os._exit`` in a pipeline
file, a pipeline body or a step become a failure with one line instead of ending the process.

A pipeline file that calls ``sys.exit(0)`` at import would otherwise end ``modelway run`` with
exit code 0 and no run; an in-process step that calls it would leave its run "interrupted".
Inside :func:`exits_forbidden`, ``SystemExit`` is turned into :class:`ExitAttempt`, and
``os._exit`` (which no ``except`` can catch) is replaced, for this process only, by a function
that raises it. Forked children (multiprocessing workers a step starts) keep the real
``os._exit``: it is how they end.

Example:
    >>> import sys
    >>> try:
    ...     with exits_forbidden():
    ...         sys.exit(3)
    ... except ExitAttempt as exc:
    ...     print(exc.how)
    sys.exit(3)
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator


class ExitAttempt(BaseException):
    """User code tried to end the process. A BaseException, so ``except Exception`` in the
    user's own code does not swallow it."""

    def __init__(self, code: Any, how: str) -> None:
        super().__init__(how)
        self.code = code
        self.how = how


@contextlib.contextmanager
def exits_forbidden(os_exit: bool = True) -> Iterator[None]:
    """Run a block of user code in which exiting the process raises :class:`ExitAttempt`.

    ``os_exit=False`` leaves ``os._exit`` alone (a step in its own process: there it ends only
    that process, and the runner reports the step failed with its exit code)."""
    if not os_exit:
        try:
            yield
        except SystemExit as exc:
            raise ExitAttempt(exc.code, f"sys.exit({exc.code!r})") from None
        return
    real_exit = os._exit
    me = os.getpid()

    def guarded_exit(code: int) -> None:
        if os.getpid() != me:  # a child forked inside the block ends as it should
            real_exit(code)
        raise ExitAttempt(code, f"os._exit({code!r})")

    os._exit = guarded_exit  # type: ignore[assignment]
    try:
        yield
    except SystemExit as exc:
        raise ExitAttempt(exc.code, f"sys.exit({exc.code!r})") from None
    finally:
        os._exit = real_exit  # type: ignore[assignment]
