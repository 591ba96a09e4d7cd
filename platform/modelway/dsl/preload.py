"""``preload=[...]``: modules a pipeline or step declares for the runner to import once, before forking.

In process-per-step mode every step is a forked child of the runner. A module the runner
has imported is inherited by every child for free; a module it has not is imported again
by each step that needs it (pandas, pyarrow, scikit-learn: seconds each). The runner
imports the declared modules right before it forks the first step that really executes,
so a fully cached re-run imports none of them. Only the names are checked here; see
:mod:`modelway.runtime.preload` for the importing.

Example:
    >>> parse_preload("pipeline 'p'", ["pandas", "sklearn.ensemble"])
    ('pandas', 'sklearn.ensemble')
"""
from __future__ import annotations

import re
from typing import Any

from modelway.errors import DefinitionError

_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def parse_preload(where: str, value: Any) -> tuple[str, ...]:
    """Validate a ``preload`` setting (a list of dotted module names) at definition time.

    Raises DefinitionError naming ``where`` for anything that is not a module name.

    Example:
        >>> parse_preload("step 'train'", None)
        ()
    """
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise DefinitionError(f"{where}: preload must be a list of module names, e.g. preload=['pandas'], "
                              f"got {type(value).__name__}")
    names: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _MODULE.match(item):
            raise DefinitionError(f"{where}: preload entry {item!r} is not a module name (e.g. 'pandas', 'sklearn.ensemble')")
        if item not in names:
            names.append(item)
    return tuple(names)
