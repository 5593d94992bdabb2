"""kiln.data: the public face of kiln.frontend.data (re-exports only)."""
from .frontend.data import *  # noqa: F401,F403
from .frontend.data import __all__  # noqa: F401
