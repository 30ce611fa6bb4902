"""Builders that VJP rules emit ONNX ops through.

``EagerBuilder`` runs each op at once with the NumPy kernels (recording it too when
``create_graph`` is on, so higher derivatives work). ``GraphBuilder`` (in ``graph_grad.py``)
appends ``ir.Node``s instead. Rules call ``b.Mul(x, y)``, ``b.ReduceSum(g, axes, keepdims=0)``,
``b.const(...)``, ``b.unbroadcast(g, x)`` and never know which builder they have.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend import dispatch  # used at call time: dispatch imports autograd too
from onyx.frontend.autograd.record import Record


class EagerBuilder:
    is_graph = False

    def __getattr__(self, op_type: str):
        if not op_type[:1].isupper():
            raise AttributeError(op_type)

        def emit(*inputs, _outputs: int = 1, _domain: str = "", **attrs):
            return dispatch.apply(op_type, *inputs, num_outputs=_outputs, domain=_domain, **attrs)
        emit.__name__ = op_type
        return emit

    def const(self, value, like=None, dtype=None):
        """A constant tensor; ``like`` gives the dtype (``dtype`` a NumPy dtype overrides)."""
        from onyx.frontend.tensor import Tensor
        if dtype is None and like is not None:
            dtype = like._data.dtype
        return Tensor._wrap(np.asarray(value, dtype=dtype))

    def shape(self, x) -> tuple:
        """The static shape of ``x`` (ints; the graph builder may give symbolic names)."""
        return tuple(x._data.shape)

    def dtype(self, x):
        return x._data.dtype

    def constant_value(self, x):
        """The values of ``x`` where the builder knows them (always, when eager)."""
        return x._data

    def unbroadcast(self, g, x):
        """Sum ``g`` over the axes along which ``x`` was broadcast, back to ``x``'s shape."""
        return unbroadcast(self, g, self.shape(g), self.shape(x))

    def zeros_like(self, x):
        return self.const(np.zeros(self.shape(x), self.dtype(x)))

    def needs_grad(self, node, i: int) -> bool:
        """Whether input ``i`` of ``node`` wants a gradient (rules may skip the others).
        Only a recorded op knows; anything else (a rule's own sub-tape) answers yes."""
        if not isinstance(node, Record):
            return True
        t = node.inputs[i] if i < len(node.inputs) else None
        return t is not None and t.requires_grad


def unbroadcast(b, g, g_shape: tuple, x_shape: tuple):
    if tuple(g_shape) == tuple(x_shape):
        return g
    lead = len(g_shape) - len(x_shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(x_shape)
                                if d == 1 and g_shape[lead + i] != 1]
    if axes:
        g = b.ReduceSum(g, b.const(axes, dtype=np.int64), keepdims=1)
    return b.Reshape(g, b.const(list(x_shape), dtype=np.int64))
