"""The visible pass lists."""
from __future__ import annotations

from . import cse, dce, fold, simplify  # noqa: F401  (registers passes)

# simplify exposes constants to fold, fold exposes identities (x*1) to simplify again
DEFAULT = ["simplify", "fold", "simplify", "cse", "dce"]
