"""``onyx.onnx.import_model``: an ONNX file as a trainable module, exported again."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import onyx

ort = pytest.importorskip("onnxruntime")


def _torch_mlp(path, opset):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    torch.onnx.export(net, (torch.randn(4, 6),), str(path), input_names=["x"],
                      output_names=["y"], opset_version=opset, dynamo=False)
    return net


@pytest.mark.parametrize("opset", [13, 17])
def test_fine_tune_matches_torch_and_exports_again(tmp_path, opset):
    path = tmp_path / "mlp.onnx"
    tnet = _torch_mlp(path, opset)
    net = onyx.onnx.import_model(str(path))
    assert set(net.state_dict()) == {i.name for i in onnx.load(str(path)).graph.initializer}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = rng.standard_normal((8, 3)).astype(np.float32)
    opt = onyx.optim.Adam(net.parameters(), lr=1e-2)
    topt = torch.optim.Adam(tnet.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        loss = onyx.nn.functional.mse_loss(net(onyx.tensor(x)), onyx.tensor(y))
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(tnet(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) < 1e-5
    out = tmp_path / "tuned.onnx"
    onyx.onnx.export(net, (onyx.tensor(x),), str(out), input_names=["x"])
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = tnet(torch.tensor(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"x": x})[0], want, rtol=1e-4, atol=1e-5)


def test_integer_initializers_are_buffers(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["r"]),
         helper.make_node("Mul", ["r", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])],
        [helper.make_tensor("shape", TensorProto.INT64, [2], [3, 2]),
         helper.make_tensor("w", TensorProto.FLOAT, [2], [2.0, 3.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    net = onyx.onnx.import_model(model)
    assert [n for n, _ in net.named_parameters()] == ["w"]
    assert [n for n, _ in net.named_buffers()] == ["shape"]
    x = onyx.arange(6.0).view(2, 3)
    np.testing.assert_array_equal(net(x).detach().numpy(),
                                  np.arange(6.0, dtype=np.float32).reshape(3, 2) * [2, 3])


def test_unsupported_op_names_the_node():
    node = helper.make_node("NoSuchOp", ["x"], ["y"], name="mystery", domain="example.com")
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("example.com", 1)])
    with pytest.raises(onyx.UnsupportedOpError, match="NoSuchOp.*mystery"):
        onyx.onnx.import_model(model)


def test_control_flow_is_refused():
    body = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "b", [],
                             [helper.make_tensor_value_info("o", TensorProto.FLOAT, [2])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body)
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                               helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(onyx.UnsupportedOpError, match="If.*prepare"):
        onyx.onnx.import_model(model)


def test_malformed_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(onyx.OnyxError):
        onyx.onnx.import_model(str(bad))


def test_wrong_number_of_inputs(tmp_path):
    path = tmp_path / "mlp.onnx"
    _torch_mlp(path, 17)
    net = onyx.onnx.import_model(str(path))
    with pytest.raises(onyx.OnyxError, match="takes 1 input"):
        net(onyx.randn(2, 6), onyx.randn(2, 6))


def test_export_training_is_reexported():
    from onyx.frontend.compile.export_training import export_training
    assert onyx.onnx.export_training is export_training
