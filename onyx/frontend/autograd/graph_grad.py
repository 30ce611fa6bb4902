"""Gradients of ONNX graphs as ONNX graphs: ``grad_graph(model, wrt=..., of=...)``.

The same VJP rules that eager ``backward()`` runs are given a ``GraphBuilder``, which appends
``ir.Node``s instead of computing; the result is a plain-ONNX model (any runtime can run it)
whose outputs are the original outputs followed by ``grad_<name>`` for each ``wrt`` value.

    >>> m = onyx.ir.load("mlp.onnx")                                  # doctest: +SKIP
    >>> g = grad_graph(m, wrt=["W1", "b1"], of="loss")                # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from onyx import ir
from onyx.backends.numpy.values import convert_attribute
from onyx.frontend.autograd.builders import unbroadcast
from onyx.frontend.autograd.rules import get_rule
from onyx.ir.clone import clone_graph
from onyx.ir.errors import OnyxError


class GraphBuilder:
    """Emits each op as an ``ir.Node`` appended to ``graph``, typed by shape inference."""

    is_graph = True

    def __init__(self, graph: ir.Graph, opsets: dict[str, int]):
        self.graph, self.opsets = graph, opsets
        self._count = 0
        self.needed: set = set()  # values a gradient is wanted for (set by _backprop)

    def __getattr__(self, op_type: str):
        if not op_type[:1].isupper():
            raise AttributeError(op_type)

        def emit(*inputs, _outputs: int = 1, _domain: str = "", **attrs):
            attrs = {k: v for k, v in attrs.items() if v is not None}
            node = ir.Node(op_type, list(inputs), attrs, domain=_domain,
                           num_outputs=_outputs, name=self._name(op_type))
            for i, out in enumerate(node.outputs):
                out.name = f"{node.name}_out{i}" if _outputs > 1 else f"{node.name}_out"
            self.graph.append(node)
            infer_node(node, self.opsets)
            return node.outputs[0] if _outputs == 1 else tuple(node.outputs)
        return emit

    def _name(self, op_type: str) -> str:
        self._count += 1
        return f"grad/{op_type}_{self._count}"

    def const(self, value, like=None, dtype=None):
        """A constant as an initializer, so shape inference of later nodes sees its values."""
        if dtype is None and like is not None:
            dtype = self.dtype(like)
        self._count += 1
        name = f"grad/const_{self._count}"
        return self.graph.add_initializer(name, ir.Tensor(np.asarray(value, dtype=dtype)))

    def shape(self, x) -> tuple:
        shape = x.shape
        if shape is None:
            raise OnyxError(f"grad_graph: the shape of {x.name!r} is unknown (rank not "
                            f"inferred); give the model's inputs static ranks")
        return tuple(shape)

    def dtype(self, x):
        if x.dtype is None:
            raise OnyxError(f"grad_graph: the element type of {x.name!r} is unknown")
        return x.dtype.numpy

    def constant_value(self, x):
        if x.const is not None:
            return x.const.numpy()
        p = x.producer
        if p is not None and p.op_type == "Constant" and "value" in p.attributes:
            return p.attributes["value"].value.numpy()
        raise OnyxError(f"grad_graph: {x.name!r} must be a constant here (an axes or shape "
                        f"input computed at run time is not supported)")

    def unbroadcast(self, g, x):
        gs, xs = self.shape(g), self.shape(x)
        if all(isinstance(d, int) for d in gs + xs):
            return unbroadcast(self, g, gs, xs)
        if gs == xs:
            return g
        if len(gs) == len(xs) and all(a == b or b != 1 for a, b in zip(gs, xs)):
            return g  # symbolic dims that match by name: nothing was broadcast
        # dynamic case: sum the leading axes away, then reduce to x's runtime shape
        lead = len(gs) - len(xs)
        if lead:
            g = self.ReduceSum(g, self.const(list(range(lead)), dtype=np.int64), keepdims=0)
        ones = [i for i, d in enumerate(xs) if d == 1]
        if ones:
            g = self.ReduceSum(g, self.const(ones, dtype=np.int64), keepdims=1)
        return g

    def zeros_like(self, x):
        return self.Mul(x, self.const(0, like=x))

    def needs_grad(self, node, i: int) -> bool:
        if not isinstance(node, _NodeView):
            return True  # a rule's own sub-tape: no liveness known
        v = node.inputs[i] if i < len(node.inputs) else None
        return v is not None and v in self.needed


def infer_node(node: ir.Node, opsets: dict[str, int]) -> None:
    """Type the outputs of one newly built node with the IR's shape rules."""
    from onyx.ir.shapes import infer_node as _infer
    _infer(node, opsets)


class _NodeView:
    """What a rule sees of a forward ``ir.Node``: inputs, outputs and Python attributes."""

    def __init__(self, node: ir.Node):
        self.node, self.op_type = node, node.op_type
        self.inputs, self.outputs = list(node.inputs), list(node.outputs)

    def attr(self, name: str, default=None):
        a = self.node.attributes.get(name)
        return default if a is None else convert_attribute(a)


def grad_graph(model: ir.Model, wrt, of, *, keep_outputs: bool = True) -> ir.Model:
    """A new model computing d(``of``)/d(``wrt``) with plain ONNX ops.

    ``wrt``: names of graph inputs or initializers; ``of``: the name of a graph output. A
    scalar output is seeded with 1; any other gets an extra input ``grad_<of>`` (its cotangent).
    """
    from onyx.ir.shapes import infer_shapes
    wrt = [wrt] if isinstance(wrt, str) else list(wrt)
    graph = clone_graph(model.graph)
    out = ir.Model(graph, opset_imports=dict(model.opset_imports), ir_version=model.ir_version,
                   producer_name="onyx.grad_graph")
    out.functions = dict(model.functions)
    infer_shapes(out)
    values = {v.name: v for v in list(graph.inputs) + list(graph.initializers.values())}
    missing = [w for w in wrt if w not in values]
    if missing:
        raise OnyxError(f"grad_graph: {missing} are not inputs or initializers of the model")
    target = next((v for v in graph.outputs if v.name == of), None)
    if target is None:
        raise OnyxError(f"grad_graph: {of!r} is not an output of the model; outputs are "
                        f"{[v.name for v in graph.outputs]}")
    b = GraphBuilder(graph, out.opset_imports)
    grads = _backprop(b, graph, [values[w] for w in wrt], target)
    if not keep_outputs:
        graph.outputs.clear()
    for w in wrt:
        g = grads.get(values[w])
        if g is None:
            g = b.zeros_like(values[w])
        g = b.Identity(g)
        g.name = f"grad_{w}"
        graph.outputs.append(g)
    return out


def _seed(b: GraphBuilder, graph: ir.Graph, y: ir.Value):
    shape = b.shape(y)
    if all(isinstance(d, int) for d in shape) and int(np.prod(shape)) == 1:
        return b.const(np.ones(shape), like=y)
    seed = graph.add_input(f"grad_{y.name}", y.type)
    return seed


def _backprop(b: GraphBuilder, graph: ir.Graph, wrt: list[ir.Value], y: ir.Value,
              seed: ir.Value | None = None) -> dict:
    forward = list(graph)  # the nodes before any gradient node is appended
    needed = _depends_on(forward, wrt)
    b.needed = needed
    cot: dict[ir.Value, ir.Value] = {y: _seed(b, graph, y) if seed is None else seed}
    for node in reversed(forward):
        gs = [cot.get(o) for o in node.outputs]
        if all(g is None for g in gs) or not any(v in needed for v in node.inputs if v):
            continue
        rule = get_rule(node.op_type, node.domain)
        if rule is None:
            raise OnyxError(f"grad_graph: no gradient rule for {node.op_type} "
                            f"(node {node.name!r})")
        if len(gs) > 1:
            gs = [g if g is not None else b.zeros_like(o) for g, o in zip(gs, node.outputs)]
        in_grads = rule.fn(b, _NodeView(node), *gs)
        for v, g in zip(node.inputs, in_grads):
            if v is None or g is None or v not in needed:
                continue
            cot[v] = g if v not in cot else b.Add(cot[v], g)
    return cot


def _depends_on(nodes: list[ir.Node], wrt: list[ir.Value]) -> set:
    """Values whose computation involves any of ``wrt``."""
    reach = set(wrt)
    for node in nodes:
        if any(v in reach for v in node.inputs if v is not None):
            reach.update(node.outputs)
    return reach


GRADIENT_DOMAIN = "ai.onnx.preview.training"


def expand_gradient_ops(model: ir.Model) -> ir.Model:
    """Replace each ``ai.onnx.preview.training::Gradient`` node by the plain ONNX ops that
    compute it (the VJP rules through a ``GraphBuilder``), in a copy of ``model``.

    ``Gradient<xs, y, zs>`` differentiates the graph value named ``y`` (seeded with ones) with
    respect to the values named ``xs``; ``zs`` are inputs held constant.
    """
    from onyx.ir.shapes import infer_shapes
    graph = clone_graph(model.graph)
    out = ir.Model(graph, opset_imports=dict(model.opset_imports), ir_version=model.ir_version,
                   producer_name=model.producer_name, producer_version=model.producer_version)
    out.functions = dict(model.functions)
    infer_shapes(out)
    b = GraphBuilder(graph, out.opset_imports)
    for node in [n for n in graph if n.op_type == "Gradient" and n.domain == GRADIENT_DOMAIN]:
        values = _named_values(graph)
        xs, y = list(node.attr("xs") or []), node.attr("y")
        missing = [n for n in xs + [y] if n not in values]
        if missing:
            raise OnyxError(f"Gradient node {node.name!r}: {missing} name no value of the graph")
        target = values[y]
        seed = b.Expand(b.const(1, like=target), b.Shape(target))
        grads = _backprop(b, graph, [values[x] for x in xs], target, seed=seed)
        for out_value, x in zip(node.outputs, xs):
            g = grads.get(values[x])
            g = b.Identity(g if g is not None else b.zeros_like(values[x]))
            out_value.replace_all_uses_with(g)
            g.name, out_value.name = out_value.name, ""  # the model keeps its output names
        graph.remove(node)
    graph.sort()
    return out


def _named_values(graph: ir.Graph) -> dict:
    values = {v.name: v for v in list(graph.inputs) + list(graph.initializers.values())}
    for node in graph:
        values.update((o.name, o) for o in node.outputs if o.name)
    return values
