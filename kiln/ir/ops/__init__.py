"""Op families; importing this package fills the registry."""
from . import elementwise, index, linalg, random, reduce, shape, state, window  # noqa: F401
