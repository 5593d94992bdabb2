"""kiln.optim: the public face of kiln.frontend.optim (re-exports only)."""
from .frontend.optim import *  # noqa: F401,F403
from .frontend.optim import __all__  # noqa: F401
