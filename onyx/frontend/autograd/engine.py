"""Reverse-mode differentiation over the records eager ops leave.

Records are processed newest first (a record's inputs always predate it, so creation order is
a topological order), each through its op's VJP rule with the eager builder. With
``create_graph=True`` the rules' ops are recorded too, so gradients can be differentiated again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from onyx.frontend.autograd.builders import EagerBuilder
from onyx.frontend.autograd.grad_mode import set_grad_enabled
from onyx.frontend.autograd.rules import get_rule
from onyx.ir.errors import OnyxError

_BUILDER = EagerBuilder()


def backward(tensors: Sequence, grad_tensors: Sequence | None = None, *,
             retain_graph: bool | None = None, create_graph: bool = False, inputs=None) -> None:
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (``torch.autograd.backward``)."""
    only = None if inputs is None else {id(t) for t in _as_list(inputs)}
    _run(_as_list(tensors), grad_tensors, retain_graph=create_graph if retain_graph is None
         else retain_graph, create_graph=create_graph, capture=None, only=only)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple:
    """d(outputs)/d(inputs) without touching ``.grad`` (``torch.autograd.grad``)."""
    outs, ins = _as_list(outputs), _as_list(inputs)
    for t in ins:
        if not t.requires_grad:
            raise OnyxError("one of the differentiated tensors does not require grad")
    capture: dict[int, object] = {id(t): None for t in ins}
    _run(outs, grad_outputs, retain_graph=create_graph if retain_graph is None else retain_graph,
         create_graph=create_graph, capture=capture, only=set())
    result = []
    for t in ins:
        g = capture[id(t)]
        if g is None:
            if materialize_grads:
                g = _BUILDER.zeros_like(t)
            elif not allow_unused:
                raise OnyxError("one of the differentiated tensors appears to not have been used "
                                "in the graph; set allow_unused=True if this is the desired "
                                "behavior")
        result.append(g)
    return tuple(result)


def _as_list(x) -> list:
    from onyx.frontend.tensor import Tensor
    return [x] if isinstance(x, Tensor) else list(x)


def _seed(roots: list, grads) -> list:
    from onyx.frontend.tensor import Tensor
    grads = [None] * len(roots) if grads is None else _as_list(grads)
    out = []
    for t, g in zip(roots, grads):
        if not t.requires_grad:
            raise OnyxError("element 0 of tensors does not require grad and does not have a "
                            "grad_fn")
        if g is None:
            if t.numel() != 1:
                raise OnyxError(f"grad can be implicitly created only for scalar outputs; got "
                                f"shape {list(t.shape)}")
            g = Tensor._wrap(np.ones(t._data.shape, t._data.dtype))
        elif tuple(g.shape) != tuple(t.shape):
            raise OnyxError(f"mismatch in shape: grad_output has shape {list(g.shape)} and "
                            f"output has shape {list(t.shape)}")
        out.append(g)
    return out


def _collect(roots: list) -> list:
    seen, stack, order = set(), [t.grad_fn for t in roots if t.grad_fn is not None], []
    while stack:
        rec = stack.pop()
        if id(rec) in seen:
            continue
        seen.add(id(rec))
        order.append(rec)
        for edge in rec.edges:
            if edge is not None and edge[0] is not None and id(edge[0]) not in seen:
                stack.append(edge[0])
    order.sort(key=lambda r: -r.seq)
    return order


def _run(roots, grad_tensors, *, retain_graph, create_graph, capture, only) -> None:
    seeds = _seed(roots, grad_tensors)
    pending: dict[int, list] = {}
    with set_grad_enabled(create_graph):
        for t, g in zip(roots, seeds):
            _deliver(t, (t.grad_fn, t._out_index), g, pending, capture, only, create_graph)
        for rec in _collect(roots):
            out_grads = pending.pop(id(rec), None)
            if out_grads is None:
                continue
            out_grads = _output_hooks(rec, out_grads, capture, create_graph)
            in_grads = _apply_rule(rec, out_grads)
            for t, edge, g in zip(rec.inputs, rec.edges, in_grads):
                if t is not None and g is not None and (t.requires_grad or edge[0] is not None):
                    _deliver(t, edge, g, pending, capture, only, create_graph)
            if not retain_graph:
                rec.free()


def _deliver(t, edge, g, pending, capture, only, create_graph) -> None:
    """Route gradient ``g`` along ``edge`` (the producer recorded when ``t`` was used): into
    that record's pending list, or into leaf ``t``."""
    producer, index = edge
    if producer is not None:
        slots = pending.setdefault(id(producer), [None] * len(producer._outputs))
        slots[index] = g if slots[index] is None else _add(slots[index], g)
        return
    g = _run_hooks(t, g)
    if capture is not None and id(t) in capture:
        capture[id(t)] = g if capture[id(t)] is None else _add(capture[id(t)], g)
    if capture is None and (only is None or id(t) in only):
        g = g if create_graph else g.detach()
        t.grad = g if t.grad is None else (_add(t.grad, g) if create_graph
                                           else _accumulate(t.grad, g))


def _output_hooks(rec, out_grads, capture, create_graph) -> list:
    for i, g in enumerate(out_grads):
        if g is None:
            continue
        t = rec._outputs[i]()
        if t is None:
            continue
        g = out_grads[i] = _run_hooks(t, g)
        if capture is not None and id(t) in capture:
            capture[id(t)] = g if capture[id(t)] is None else _add(capture[id(t)], g)
        if t._retains_grad and capture is None:
            g = g if create_graph else g.detach()
            t.grad = g if t.grad is None else _add(t.grad, g)
    return out_grads


def _run_hooks(t, g):
    for hook in t._hooks or ():
        new = hook(g)
        if new is not None:
            g = new
    return g


def _apply_rule(rec, out_grads: list) -> list:
    if rec.backward_fn is not None:
        rec.check_versions((), ())
        return rec.backward_fn(out_grads)
    rule = get_rule(rec.op_type, rec.domain)
    if rule is None:
        raise OnyxError(f"no gradient rule for ONNX op {rec.op_type}: it cannot be "
                        f"differentiated")
    uses = range(len(rec.inputs)) if rule.uses_inputs is None else rule.uses_inputs
    rec.check_versions(uses, rule.uses_outputs)
    if len(out_grads) > 1:
        outs = rec.outputs
        out_grads = [g if g is not None else _BUILDER.zeros_like(o)
                     for g, o in zip(out_grads, outs)]
    grads = rule.fn(_BUILDER, rec, *out_grads)
    return list(grads) + [None] * (len(rec.inputs) - len(grads))


def _add(a, b):
    return _BUILDER.Add(a, b)


def _accumulate(acc, g):
    from onyx.frontend.tensor import Tensor
    return Tensor._wrap(acc._data + g._data)
