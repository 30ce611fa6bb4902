"""VJP rules of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

Both pick x[n, t[n, d...], d...] per position, weight it by weight[t] (0 where t is
``ignore_index``) and reduce: ``none`` keeps the positions, ``sum`` adds them, ``mean`` divides
the sum by the total weight of the counted positions.
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    as_float,
    ints,
    onnx_type,
    rank,
)

_INT64 = 7


class _Picks:
    """Which class each position picks, and with what weight."""

    def __init__(self, b, node, x, target, weight):
        self.b, self.x, self.target = b, x, target
        r = rank(b, x)
        ii = node.attr("ignore_index")
        target = target if b.dtype(target) == np.int64 else b.Cast(target, to=_INT64)
        self.onehot = as_float(b, b.Equal(_unsqueeze1(b, target), _class_grid(b, x, r)), x)
        self.counted = None if ii is None else \
            b.Not(b.Equal(target, b.const(ii, dtype=np.int64)))
        if weight is None:
            w = None if self.counted is None else as_float(b, self.counted, x)
        else:
            safe = target if self.counted is None else \
                b.Where(self.counted, target, b.const(0, dtype=np.int64))
            w = b.Gather(weight, safe, axis=0)
            if self.counted is not None:
                w = b.Where(self.counted, w, b.zeros_like(w))
        self.w = w                  # None: every position weighs 1
        self.reduction = node.attr("reduction", "mean")

    def _weighted(self, v):
        return v if self.w is None else self.b.Mul(v, self.w)

    def _spread(self, g):
        """The scalar cotangent of a reduced loss, one copy per position."""
        return self.b.Expand(g, self.b.Shape(self.target))

    def _total_weight(self):
        b = self.b
        if self.w is None:
            return b.Cast(b.Size(self.target), to=onnx_type(b, self.x))
        return b.ReduceSum(self.w, keepdims=0)

    def input_grad(self, g):
        """Cotangent of the tensor the values are picked from: -g at the picked class."""
        b = self.b
        if self.reduction == "none":
            per = self._weighted(g)
        elif self.reduction == "sum":
            per = self._weighted(self._spread(g))
        else:
            per = b.Div(self._weighted(self._spread(g)), self._total_weight())
        return b.Neg(b.Mul(self.onehot, _unsqueeze1(b, per)))

    def weight_grad(self, g, logp, loss):
        """Cotangent of the class weights: each counted position adds to its class."""
        b = self.b
        picked = b.Neg(b.ReduceSum(b.Mul(logp, self.onehot), ints(b, [1]), keepdims=0))
        if self.reduction == "none":
            per = b.Mul(picked, g)
        elif self.reduction == "sum":
            per = b.Mul(picked, self._spread(g))
        else:  # loss = A / W: d/dw_c = sum over the picks of c of (-x - loss) / W
            per = b.Div(b.Mul(b.Sub(picked, loss), g), self._total_weight())
        if self.counted is not None:
            per = b.Mul(per, as_float(b, self.counted, per))
        per = b.Mul(self.onehot, _unsqueeze1(b, per))
        return b.ReduceSum(per, ints(b, [0, *range(2, rank(b, self.x))]), keepdims=0)


def _class_grid(b, x, r: int):
    """0..C-1 along axis 1 of a rank-r tensor, C being x's class count."""
    classes = b.shape(x)[1]
    if isinstance(classes, int | np.integer):
        grid = np.arange(classes, dtype=np.int64).reshape([1, -1] + [1] * (r - 2))
        return b.const(grid, dtype=np.int64)
    count = b.Gather(b.Shape(x), b.const(1, dtype=np.int64), axis=0)
    seq = b.Range(b.const(0, dtype=np.int64), count, b.const(1, dtype=np.int64))
    return b.Reshape(seq, ints(b, [1, -1] + [1] * (r - 2)))


def _unsqueeze1(b, v):
    return b.Unsqueeze(v, ints(b, [1]))


@vjp("NegativeLogLikelihoodLoss", uses_outputs=(0,))
def _(b, node, g):
    x, target, weight = node.inputs[0], node.inputs[1], arg(node, 2)
    picks = _Picks(b, node, x, target, weight)
    grads = [picks.input_grad(g), None, None]
    if weight is not None:
        grads[2] = picks.weight_grad(g, x, node.outputs[0])
    return grads


@vjp("SoftmaxCrossEntropyLoss", uses_outputs=(0,))
def _(b, node, g, g_logp=None):
    x, labels, weight = node.inputs[0], node.inputs[1], arg(node, 2)
    picks = _Picks(b, node, x, labels, weight)
    logp = node.outputs[1] if len(node.outputs) > 1 else b.LogSoftmax(x, axis=1)
    glogp = picks.input_grad(g)
    if g_logp is not None:
        glogp = b.Add(glogp, g_logp)
    # back through log_softmax over the class axis
    total = b.ReduceSum(glogp, ints(b, [1]), keepdims=1)
    gx = b.Sub(glogp, b.Mul(b.Exp(logp), total))
    grads = [gx, None, None]
    if weight is not None:
        grads[2] = picks.weight_grad(g, logp, node.outputs[0])
    return grads
