"""CUDA C generated from the IR: kernels as data (source, launch shape, cache key).

Pure Python: nothing here needs a GPU, PyCUDA or nvcc; ``onyx.backends.cuda.cache`` compiles.
"""

from onyx.backends.cuda.codegen.kernel import Kernel, NodePlan
from onyx.backends.cuda.codegen.registry import FUSED_DOMAIN, kernels_for_node, supported_ops

__all__ = ["FUSED_DOMAIN", "Kernel", "NodePlan", "kernels_for_node", "supported_ops"]
