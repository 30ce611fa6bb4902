"""Recognise scaled dot-product attention written out as ops, as one ``Attention`` node
(ONNX opset ≥ 23):

    Softmax(MatMul(Q, Transpose(K, last two axes)) * scale [+ mask], axis=-1) @ V

with 4-D ``(batch, heads, sequence, head size)`` Q, K and V, the scale given as a Mul or Div
by a constant (none: scale 1), and an optional float mask added to the scores. The walk starts
at the ``Softmax``. One difference is by the spec and only for degenerate input: a query row
whose scores are all ``-inf`` gives zeros from ``Attention`` where the written-out form gives
NaN. Below opset 23 the pattern is left alone (a note says so).
"""

from __future__ import annotations

from onyx.ir.core import Model, Node
from onyx.ir.types import TensorType
from onyx.passes.structure import FormulaPass, Replacement, internal, is_op, only_user, scalar


def _rank(v) -> int | None:
    t = v.type
    return len(t.shape) if isinstance(t, TensorType) and t.shape is not None else None


def _scaled(v):
    """``(qk value, scale, nodes)`` for ``qk * c``, ``c * qk``, ``qk / c`` or ``qk`` itself."""
    p = v.producer
    if is_op(p, "Mul", "Div") and internal(v):
        for qk, c in ((p.inputs[0], p.inputs[1]), (p.inputs[1], p.inputs[0])):
            value = scalar(c)
            if value is None or value == 0 or not is_op(qk.producer, "MatMul"):
                continue
            if p.op_type == "Div" and qk is not p.inputs[0]:
                continue
            return qk, (1.0 / value if p.op_type == "Div" else value), [p]
    return v, 1.0, []


def _mask_fits(mask, qk, q) -> bool:
    """A float mask of Q's type whose last two dims are the scores' (query, key) dims: what
    ``Attention``'s ``attn_mask`` accepts."""
    m, scores = mask.type, qk.type
    if not isinstance(m, TensorType) or m.shape is None or m.dtype != q.type.dtype:
        return False
    if not isinstance(scores, TensorType) or scores.shape is None or not 2 <= len(m.shape) <= 4:
        return False
    return tuple(m.shape[-2:]) == tuple(scores.shape[-2:]) and \
        all(isinstance(d, int) for d in m.shape[-2:])


def match_attention(softmax: Node):
    """``(Q, K, V, mask or None, scale, last node, dead nodes consumers-first)`` or None."""
    probs = softmax.outputs[0]
    rank = _rank(probs)
    if rank != 4 or softmax.attr("axis", -1) not in (-1, 3):
        return None
    out = only_user(probs)
    if not is_op(out, "MatMul") or out.inputs[0] is not probs:
        return None
    scores, mask, dead = softmax.inputs[0], None, [out, softmax]
    add = scores.producer
    if is_op(add, "Add") and internal(scores):
        for s, m in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
            if is_op(s.producer, "Mul", "Div", "MatMul"):
                scores, mask = s, m
                dead.append(add)
                break
    qk, scale, scale_nodes = _scaled(scores)
    mm = qk.producer
    if not is_op(mm, "MatMul") or not internal(qk):
        return None
    q, kt = mm.inputs
    tr = kt.producer
    if not is_op(tr, "Transpose") or not internal(kt) or list(tr.attr("perm", [])) != [0, 1, 3, 2]:
        return None
    k, v = tr.inputs[0], out.inputs[1]
    if any(_rank(x) != 4 for x in (q, k, v)):
        return None
    if mask is not None and not _mask_fits(mask, qk, q):
        return None
    return q, k, v, mask, scale, out, dead + scale_nodes + [mm, tr]


class AttentionFusionPass(FormulaPass):
    """Written-out scaled dot-product attention → ``Attention`` (opset ≥ 23)."""

    name, op_type, min_opset, anchors = "attention", "Attention", 23, ("Softmax",)

    def match(self, node: Node, model: Model) -> Replacement | None:
        found = match_attention(node)
        if found is None:
            return None
        q, k, v, mask, scale, last, dead = found
        inputs = [q, k, v] + ([mask] if mask is not None else [])
        return Replacement(inputs, {"scale": float(scale)}, last, dead)
