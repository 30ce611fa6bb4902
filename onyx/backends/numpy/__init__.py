"""The NumPy CPU backend: a kernel per ONNX op and an executor for graphs."""

from onyx.backends.numpy.executor import Executor
from onyx.backends.numpy.registry import KernelContext, kernel, lookup, registered

__all__ = ["Executor", "KernelContext", "kernel", "lookup", "registered"]
