"""The bottom layer: dtypes, types, graphs, the op registry and kernel IR (imports numpy only)."""
from . import ops  # noqa: F401  (fills the registry)
from .dtypes import DType, as_dtype
from .graph import Graph, Loc, Node, Value
from .opdef import REGISTRY, OpDef
from .types import TensorType

__all__ = ["DType", "as_dtype", "Graph", "Loc", "Node", "Value", "REGISTRY", "OpDef", "TensorType"]
