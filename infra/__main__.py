"""Pulumi program of Modelway (Pulumi.yaml: `main: infra/`)."""
import sys
from pathlib import Path

# Pulumi runs `main: infra/` with infra/ itself on sys.path, so `import infra.x` and the
# `modelway` contracts (installed, but also importable from a checkout) need the repo root.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from infra.program import main  # noqa: E402

main()
