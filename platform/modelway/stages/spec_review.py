"""Model spec reviewed (ML Test Score M1): prod only gets models built from committed, pushed code.

Code review happens on commits that reach the shared remote. A model trained from a working
tree with uncommitted changes, or from a commit that exists only on this machine, has a spec
nobody could have reviewed. Registering for an environment whose promotion rule says
``require_reviewed_code`` (prod by default) is refused with one line saying why; elsewhere
the same finding is a warning in the run log.

Example:
    >>> ReviewStatus(commit="abc", dirty=True, pushed=True).problem
    'the working tree has uncommitted changes'
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from modelway.runtime.errors import StepFailed


@dataclass(frozen=True)
class ReviewStatus:
    """Where the code a model was built from stands: commit, uncommitted changes, on a remote or not."""

    commit: str | None
    dirty: bool = False
    pushed: bool | None = None
    """True when HEAD is on a remote-tracking branch; None when the repository has no remote at all."""

    @property
    def problem(self) -> str | None:
        """Why the spec cannot have been reviewed, or None."""
        if self.commit is None:
            return "the pipeline does not run from a git repository, so its code cannot be traced to a reviewed commit"
        if self.dirty:
            return "the working tree has uncommitted changes"
        if self.pushed is None:
            return f"commit {self.commit[:12]} has no remote to be reviewed on"
        if not self.pushed:
            return f"commit {self.commit[:12]} is not pushed to any remote branch"
        return None


def review_status(path: Path | str = ".") -> ReviewStatus:
    """The git state of the work tree containing ``path``.

    Example:
        >>> import tempfile
        >>> review_status(tempfile.mkdtemp()).commit is None
        True
    """
    cwd = Path(path)

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return ReviewStatus(commit=None)
        commit = head.stdout.strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
        if not git("remote").stdout.strip():
            return ReviewStatus(commit, dirty, None)
        containing = git("branch", "--remotes", "--contains", commit)
        return ReviewStatus(commit, dirty, containing.returncode == 0 and bool(containing.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        return ReviewStatus(commit=None)


def enforce_reviewed_code(environment: str, required: bool, path: Path | str = ".") -> str | None:
    """Raise :class:`StepFailed` (one line) when ``required`` and the code is not reviewable; else return the warning, if any.

    Example:
        >>> import tempfile
        >>> enforce_reviewed_code("dev", False, tempfile.mkdtemp()).startswith("warning: ")
        True
    """
    problem = review_status(path).problem
    if problem is None:
        return None
    if required:
        raise StepFailed(f"refusing to register for {environment}: {problem} (ML Test Score M1: commit and push the "
                         f"pipeline code, then re-run)")
    return f"warning: {problem}; a registration for prod would be refused (ML Test Score M1)"
