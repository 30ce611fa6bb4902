"""``onyx.onnx.import_model``: an ONNX model as an ``nn.Module`` that can be fine-tuned.

Float initializers become ``Parameter``s and the others buffers, registered under their ONNX
names (so ``state_dict()`` keys are the initializer names). ``forward`` runs the graph node by
node through the eager dispatcher, with the same kernels as everywhere else, so every op is
recorded for autograd: ``loss.backward()`` fills the parameters' gradients and any optimizer
can train the imported weights; ``onyx.onnx.export`` writes the result again.

    >>> net = onyx.onnx.import_model("mlp.onnx")                      # doctest: +SKIP
    >>> opt = onyx.optim.Adam(net.parameters(), lr=1e-3)

Models below the eager opset are first converted with onnx's version converter (the VJP
rules follow the op semantics of that opset). Control-flow ops (If, Loop, Scan) are refused:
their bodies would run without gradients.
"""

from __future__ import annotations

import numpy as np
import onnx

from onyx import ir
from onyx.backends.numpy.registry import lookup
from onyx.backends.numpy.values import convert_attribute
from onyx.frontend import dispatch
from onyx.frontend.nn.module import Module
from onyx.frontend.nn.parameter import Parameter
from onyx.frontend.tensor import Tensor
from onyx.ir.core import AttrType
from onyx.ir.errors import ModelError, OnyxError, UnsupportedOpError, describe_node
from onyx.ir.order import topological_order


class ONNXModule(Module):
    """An imported ONNX graph; call it with the graph's inputs in order."""

    def __init__(self, model: ir.Model):
        super().__init__()
        self.model = model
        g = model.graph
        for name, v in g.initializers.items():
            data = np.array(v.const.numpy())  # a private, writable copy
            if data.dtype.kind == "f":
                self.register_parameter(name, Parameter(Tensor._wrap(data)))
            else:
                self.register_buffer(name, Tensor._wrap(data))
        self._initializer_values = dict(g.initializers)
        self.input_names = [v.name for v in g.inputs if v.name not in g.initializers]
        self.output_names = [v.name for v in g.outputs]
        self._nodes = [(n, _attributes(n)) for n in topological_order(g)]

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise OnyxError(f"ONNXModule: the model takes {len(self.input_names)} input(s) "
                            f"{self.input_names}, got {len(inputs)}")
        env: dict[int, Tensor] = {}
        g = self.model.graph
        named = dict(self.named_parameters()) | dict(self.named_buffers())
        for name, v in self._initializer_values.items():
            env[id(v)] = named[name]
        feeds = [v for v in g.inputs if v.name not in g.initializers]
        for v, x in zip(feeds, inputs):
            env[id(v)] = x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))
        for node, attrs in self._nodes:
            args = [None if (v is None or not v.name) else env[id(v)] for v in node.inputs]
            outs = dispatch.apply(node.op_type, *args, num_outputs=len(node.outputs),
                                  domain=node.domain, **attrs)
            outs = (outs,) if len(node.outputs) == 1 else outs
            for v, t in zip(node.outputs, outs):
                env[id(v)] = t
        results = tuple(env[id(v)] for v in g.outputs)
        return results[0] if len(results) == 1 else results

    def extra_repr(self) -> str:
        return (f"inputs={self.input_names}, outputs={self.output_names}, "
                f"nodes={len(self._nodes)}")


def import_model(source) -> ONNXModule:
    """Load ``source`` (a path, ``bytes`` or ``onnx.ModelProto``) as an ``ONNXModule``."""
    model = ir.load(source)
    if model.opset != dispatch.OPSET:
        model = _to_eager_opset(model)
    for node in model.graph.all_nodes():
        _check_node(node, model)
    return ONNXModule(model)


def _to_eager_opset(model: ir.Model) -> ir.Model:
    from onnx import version_converter
    try:
        proto = version_converter.convert_version(ir.to_onnx(model), dispatch.OPSET)
    except Exception as exc:  # the converter raises RuntimeError, ValidationError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"import_model: onnx's version converter cannot take the model from "
                         f"opset {model.opset} to {dispatch.OPSET}: {first}") from None
    onnx.checker.check_model(proto)
    return ir.from_onnx(proto)


def _check_node(node: ir.Node, model: ir.Model) -> None:
    opset = model.opset_imports.get(node.domain or "", 1)
    if any(True for _ in node.subgraphs()):
        raise UnsupportedOpError(node.op_type, node.domain, opset, node=node.name,
                                 backend="eager", detail="import_model runs each node as an "
                                 "eager op and control flow would run without gradients; run "
                                 "the model with onyx.backend.prepare instead")
    if lookup(node.op_type, node.domain, opset) is None:
        raise UnsupportedOpError(node.op_type, node.domain, opset, node=node.name,
                                 backend="eager", detail=f"no kernel for {describe_node(node)}")


def _attributes(node: ir.Node) -> dict:
    return {name: convert_attribute(a) for name, a in node.attributes.items()
            if a.type is not AttrType.GRAPH and a.type is not AttrType.GRAPHS}
