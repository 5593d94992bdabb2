"""kiln.nn: the public face of kiln.frontend.nn (re-exports only)."""
from .frontend.nn import *  # noqa: F401,F403
from .frontend.nn import __all__  # noqa: F401
