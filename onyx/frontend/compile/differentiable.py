"""Backward through a compiled forward: outputs of a compiled call in grad mode get one
autograd record whose backward runs a compiled gradient graph.

The gradient graph is the traced forward extended with one cotangent input per output and a
scalar ``sum(output * cotangent)``, differentiated by ``grad_graph`` (the VJP rules emitting
ONNX ops) with respect to every input and parameter that requires grad. It is built, optimized
and prepared on the first ``backward()`` and reused after.

    >>> import onyx
    >>> lin = onyx.nn.Linear(3, 2)
    >>> fast = onyx.compile(lin)
    >>> x = onyx.randn(4, 3)
    >>> _ = fast(x); fast(x).sum().backward()    # the second call runs the graph
    >>> lin.weight.grad.shape
    onyx.Size([2, 3])
"""

from __future__ import annotations

import numpy as np

from onyx import ir
from onyx.frontend.autograd.record import Record
from onyx.frontend.tensor import Tensor
from onyx.ir.clone import clone_graph
from onyx.ir.errors import OnyxError


class GradientProgram:
    """The prepared gradient graph of one cached entry (built lazily)."""

    def __init__(self, traced, wrt: list[int], backend: str):
        self.traced, self.wrt, self.backend = traced, wrt, backend
        self._runner = None

    def _build(self):
        from onyx.frontend.autograd.graph_grad import grad_graph
        from onyx.frontend.compile.backends import optimize_model, prepare_model
        m = self.traced.model
        graph = clone_graph(m.graph)
        model = ir.Model(graph, opset_imports=dict(m.opset_imports), ir_version=m.ir_version)
        outs = list(graph.outputs[:self.traced.num_user_outputs])
        total = None
        for k, out in enumerate(outs):
            if out.dtype is None or out.dtype.numpy.kind not in "fc":
                continue
            cot = graph.add_input(f"cotangent_{k}", out.type)
            term = _append(graph, "ReduceSum", [_append(graph, "Mul", [out, cot])],
                           keepdims=0)
            total = term if total is None else _append(graph, "Add", [total, term])
        if total is None:
            raise OnyxError("backward through a compiled call: no floating-point output")
        total.name = "vjp_total"
        graph.outputs[:] = [total]
        names = [graph.inputs[i].name for i in self.wrt]
        try:
            grads = grad_graph(model, wrt=names, of="vjp_total", keep_outputs=False)
        except OnyxError as exc:
            raise OnyxError(f"backward through a compiled call: {exc}; compile the whole "
                            f"training step (forward, backward and optimizer.step) instead") \
                from exc
        self._runner = prepare_model(optimize_model(grads, None), self.backend)

    def run(self, feeds: list, cotangents: list) -> list:
        if self._runner is None:
            self._build()
        return list(self._runner.run(list(feeds) + cotangents))


def _append(graph: ir.Graph, op_type: str, inputs: list, **attrs) -> ir.Value:
    node = ir.Node(op_type, inputs, [ir.Attribute.infer(k, v) for k, v in attrs.items()],
                   name=f"vjp/{op_type}_{len(graph)}")
    node.outputs[0].name = f"vjp/{op_type}_{len(graph)}_out"
    graph.append(node)
    from onyx.frontend.autograd.graph_grad import infer_node
    infer_node(node, {"": 21})
    return node.outputs[0]


def attach(program: GradientProgram, feeds: list, grad_tensors: list[Tensor],
           outputs: list[Tensor]) -> None:
    """Give ``outputs`` a record whose backward runs ``program`` on ``feeds``."""
    floats = [o for o in outputs if o._data.dtype.kind in "fc"]
    if not floats:
        return

    def backward(out_grads: list) -> list:
        cots = []
        for o, g in zip(floats, out_grads):
            cots.append(np.zeros_like(o._data) if g is None else np.asarray(g._data))
        grads = program.run(feeds, cots)
        return [Tensor._wrap(np.asarray(g)) for g in grads]
    record = Record("CompiledGraph", {}, tuple(grad_tensors), floats, backward_fn=backward)
    for i, t in enumerate(floats):
        t.requires_grad, t.grad_fn, t._out_index = True, record, i
