"""The standard ``onnx.backend.base.Backend`` interface over onyx (like onnxruntime.backend).

    >>> import onyx.backend
    >>> rep = onyx.backend.prepare(model_proto)          # doctest: +SKIP
    >>> outputs = rep.run([x])                            # doctest: +SKIP
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from onyx import ir
from onyx.backends.numpy.executor import Executor
from onyx.ir.errors import OnyxError


class OnyxRep(BackendRep):
    def __init__(self, model: ir.Model):
        self.model = model
        self.executor = Executor(model)
        self._outputs = _outputs_type(self.executor.output_names)

    def run(self, inputs, **kwargs):
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        outputs = self.executor.run(inputs)
        return tuple(outputs) if self._outputs is None else self._outputs(*outputs)

    def memory_report(self, feeds=None) -> dict[str, int]:
        """Planned and measured memory of the main graph (see ``Executor.memory_report``)."""
        return self.executor.memory_report(feeds)


def _outputs_type(output_names: list[str]):
    """The named tuple ``run`` returns, built once (``None`` where the names cannot be
    field names, e.g. duplicates: then a plain tuple)."""
    names = [n if n.isidentifier() else f"output_{i}" for i, n in enumerate(output_names)]
    try:
        return namedtuple("Outputs", names)
    except ValueError:
        return None


class OnyxBackend(Backend):
    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs) -> bool:
        try:
            cls.prepare(model, device)
        except OnyxError:
            return False
        return True

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs) -> OnyxRep:
        if not cls.supports_device(device):
            raise OnyxError(f"device {device!r} is not supported by the NumPy backend")
        m = model if isinstance(model, ir.Model) else ir.load(model)
        if any(n.op_type == "Gradient" and n.domain == "ai.onnx.preview.training"
               for n in m.graph):
            from onyx.frontend.autograd.graph_grad import expand_gradient_ops
            m = expand_gradient_ops(m)
        return OnyxRep(m)

    @classmethod
    def run_model(cls, model, inputs, device: str = "CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs, device: str = "CPU",
                 outputs_info=None, **kwargs):
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        graph_inputs = [onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(x).dtype), None)
            for name, x in zip(node.input, inputs) if name]
        graph_outputs = [onnx.helper.make_value_info(name, onnx.TypeProto())
                         for name in node.output if name]
        graph = onnx.helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opsets = [onnx.helper.make_opsetid("", opset)]
        if node.domain and node.domain != "ai.onnx":
            opsets.append(onnx.helper.make_opsetid(node.domain, 1))
        model = onnx.helper.make_model(graph, opset_imports=opsets)
        feeds = [np.asarray(x) for name, x in zip(node.input, inputs) if name]
        return cls.run_model(model, feeds, device)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return str(device).upper().split(":")[0] == "CPU"


prepare = OnyxBackend.prepare
run_model = OnyxBackend.run_model
run_node = OnyxBackend.run_node
supports_device = OnyxBackend.supports_device
is_compatible = OnyxBackend.is_compatible
