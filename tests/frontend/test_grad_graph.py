"""grad_graph: gradients of an imported ONNX model as a plain ONNX model, checked by
onnx.checker and run in onnxruntime, equal to torch's gradients."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper, numpy_helper

import onyx
from onyx import ir
from onyx.backends.numpy import Executor

RNG = np.random.default_rng(0)
W1 = RNG.standard_normal((4, 8)).astype(np.float32) * 0.5
B1 = RNG.standard_normal((8,)).astype(np.float32) * 0.1
W2 = RNG.standard_normal((8, 3)).astype(np.float32) * 0.5
X = RNG.standard_normal((5, 4)).astype(np.float32)
T = RNG.standard_normal((5, 3)).astype(np.float32)


def _mlp_loss_model(batch="N") -> onnx.ModelProto:
    inits = [numpy_helper.from_array(a, n) for a, n in ((W1, "W1"), (B1, "b1"), (W2, "W2"))]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h"]),
        helper.make_node("Add", ["h", "b1"], ["hb"]),
        helper.make_node("Tanh", ["hb"], ["a"]),
        helper.make_node("MatMul", ["a", "W2"], ["y"]),
        helper.make_node("Sub", ["y", "t"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["loss"], keepdims=0),
    ]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", 1, [batch, 4]),
                                         helper.make_tensor_value_info("t", 1, [batch, 3])],
                          [helper.make_tensor_value_info("loss", 1, [])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def _torch_grads():
    params = [torch.tensor(a, requires_grad=True) for a in (W1, B1, W2)]
    w1, b1, w2 = params
    loss = (((torch.tensor(X) @ w1 + b1).tanh() @ w2 - torch.tensor(T)) ** 2).mean()
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in params]


@pytest.mark.parametrize("batch", ["N", 5])
def test_grad_graph_matches_torch_in_onnxruntime_and_onyx(batch):
    model = ir.load(_mlp_loss_model(batch).SerializeToString())
    gmodel = onyx.autograd.grad_graph(model, wrt=["W1", "b1", "W2"], of="loss")
    proto = ir.to_onnx(gmodel)
    onnx.checker.check_model(proto, full_check=True)
    names = [o.name for o in proto.graph.output]
    assert names == ["loss", "grad_W1", "grad_b1", "grad_W2"]
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    ort_out = sess.run(None, {"x": X, "t": T})
    onyx_out = Executor(gmodel).run({"x": X, "t": T})
    loss, grads = _torch_grads()
    for out in (ort_out, onyx_out):
        np.testing.assert_allclose(out[0], loss, rtol=1e-5)
        for got, want in zip(out[1:], grads):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_grad_graph_bad_arguments():
    model = ir.load(_mlp_loss_model().SerializeToString())
    with pytest.raises(onyx.OnyxError, match="not inputs or initializers"):
        onyx.autograd.grad_graph(model, wrt=["nope"], of="loss")
    with pytest.raises(onyx.OnyxError, match="not an output"):
        onyx.autograd.grad_graph(model, wrt=["W1"], of="h")
