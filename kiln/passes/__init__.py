"""Graph → graph passes and the lowering to kernels; imports ir only."""
from . import pipelines  # noqa: F401
from .fusion import lower
from .materialize import FusionPolicy
from .manager import PASSES, PassReport, graph_pass, run_pipeline
from .memory import plan

__all__ = ["FusionPolicy", "lower", "PASSES", "PassReport", "graph_pass", "run_pipeline", "plan"]
