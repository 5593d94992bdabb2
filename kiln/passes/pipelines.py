"""The visible pass lists."""
from __future__ import annotations

from . import dce  # noqa: F401  (registers passes)

DEFAULT = ["dce"]
