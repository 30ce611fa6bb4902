"""``onyx.onnx.export`` options and errors, ``Module.to_onnx``."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest

import onyx
from onyx import nn

ort = pytest.importorskip("onnxruntime")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = onyx.nn.functional.max_pool2d(onyx.relu(self.conv(x)), 2)
        return self.fc(x.view(x.size(0), -1))


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_dynamic_axes_serve_every_batch_size(tmp_path):
    net = Net()
    path = tmp_path / "net.onnx"
    onyx.onnx.export(net, (onyx.randn(2, 1, 8, 8),), str(path), input_names=["x"],
                     output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "N"
    params = {"conv.weight", "conv.bias", "fc.weight", "fc.bias"}
    assert params <= {i.name for i in proto.graph.initializer}
    session = _session(path)
    for batch in (1, 3, 9):
        x = onyx.randn(batch, 1, 8, 8)
        with onyx.no_grad():
            want = net(x).numpy()
        np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], want,
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [17, 21])
def test_opset_version(tmp_path, opset):
    net = Net()
    x = onyx.randn(2, 1, 8, 8)
    path = tmp_path / "net.onnx"
    onyx.onnx.export(net, x, str(path), opset_version=opset)
    proto = onnx.load(str(path))
    assert {o.domain: o.version for o in proto.opset_import}[""] == opset
    with onyx.no_grad():
        want = net(x).numpy()
    got = _session(path).run(None, {proto.graph.input[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_export_restores_training_mode_and_uses_eval():
    net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9))
    assert net.training
    proto = net.to_onnx(onyx.randn(2, 4))
    assert net.training
    assert "RandomUniformLike" not in {n.op_type for n in proto.graph.node}


def test_to_onnx_and_file_object(tmp_path):
    net = nn.Linear(3, 2)
    x = onyx.randn(5, 3)
    proto = net.to_onnx(x, path=tmp_path / "a.onnx", input_names=["x"])
    assert isinstance(proto, onnx.ModelProto) and (tmp_path / "a.onnx").exists()
    buffer = io.BytesIO()
    onyx.onnx.export(net, (x,), buffer)
    again = onnx.load_from_string(buffer.getvalue())
    assert again.graph.input[0].name == "input_0"
    got = _session(tmp_path / "a.onnx").run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(got, (x @ net.weight.T + net.bias).detach().numpy(), rtol=1e-6)


def test_export_params_false_makes_weights_inputs():
    proto = nn.Linear(3, 2).to_onnx(onyx.randn(1, 3), export_params=False)
    assert not proto.graph.initializer
    assert {i.name for i in proto.graph.input} == {"input_0", "weight", "bias"}


def test_plain_function_exports():
    w = onyx.randn(3, 3)
    proto = onyx.onnx.export_model(lambda x: onyx.tanh(x @ w), (onyx.randn(2, 3),))
    assert [n.op_type for n in proto.graph] == ["MatMul", "Tanh"]


@pytest.mark.parametrize("args, message", [
    ((), "no example inputs"),
    ("x", "must be a Tensor or a tuple"),
])
def test_bad_arguments(args, message, tmp_path):
    with pytest.raises(onyx.OnyxError, match=message):
        onyx.onnx.export(nn.Linear(2, 2), args, str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_non_tensor_output_is_an_error(tmp_path):
    class Bad(nn.Module):
        def forward(self, x):
            return x * 2, "label"

    with pytest.raises(onyx.OnyxError):
        onyx.onnx.export(Bad(), (onyx.randn(2),), str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_unwritable_path_leaves_nothing(tmp_path):
    target = tmp_path / "missing-dir" / "m.onnx"
    with pytest.raises((onyx.OnyxError, OSError)):
        onyx.onnx.export(nn.Linear(2, 2), (onyx.randn(1, 2),), str(target))
    assert not target.exists()


def test_bad_dynamic_axes():
    with pytest.raises(onyx.OnyxError, match="dynamic_axes"):
        nn.Linear(2, 2).to_onnx(onyx.randn(1, 2), input_names=["x"], dynamic_axes={"x": 0})
