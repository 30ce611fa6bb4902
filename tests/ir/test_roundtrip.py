"""Lossless import/export: every backend-test model comes back byte for byte and passes the
checker; external data is read and written inside the model's folder only."""

import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onyx import ir
from onyx.tools.node_data import backend_model_paths

PATHS = backend_model_paths()


def test_the_backend_data_is_all_there():
    # node (1,884) + simple + pytorch-converted + pytorch-operator
    assert len(PATHS) > 2000


@pytest.mark.parametrize("chunk", range(8))
def test_every_backend_model_round_trips_exactly(chunk):
    for path in PATHS[chunk::8]:
        original = onnx.load(path, load_external_data=False)
        model = ir.load(path)
        model.graph.verify()
        out = ir.to_onnx(model)
        assert out.SerializeToString() == original.SerializeToString(), path
        onnx.checker.check_model(out)


def _mlp(n=4):
    w = numpy_helper.from_array(np.arange(n * n, dtype=np.float32).reshape(n, n), "W")
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name="mm", doc_string="product")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, ["batch", n])],
                          [helper.make_tensor_value_info("y", 1, ["batch", n])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], doc_string="doc")
    helper.set_model_props(m, {"author": "me"})
    return m


def test_metadata_docstrings_and_value_info_survive(tmp_path):
    m = _mlp()
    m.graph.value_info.append(helper.make_tensor_value_info("y", 1, ["batch", 4]))
    fn = helper.make_function("custom", "Twice", ["a"], ["b"],
                              [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 18)])
    m.functions.append(fn)
    m.opset_import.append(helper.make_opsetid("custom", 1))
    model = ir.load(m.SerializeToString())
    assert model.metadata_props == {"author": "me"}
    assert model.graph.nodes[0].doc_string == "product"
    assert ("custom", "Twice", "") in model.functions
    assert ir.to_onnx(model).SerializeToString() == m.SerializeToString()


def test_external_data_is_read_and_written(tmp_path):
    m = _mlp(64)
    src = tmp_path / "src"
    src.mkdir()
    onnx.save(m, str(src / "m.onnx"), save_as_external_data=True, size_threshold=0,
              location="w.bin")
    model = ir.load(str(src / "m.onnx"))
    w = model.graph.initializers["W"]
    assert w.const.is_external
    np.testing.assert_array_equal(w.const.numpy(), np.arange(64 * 64).reshape(64, 64))
    dst = tmp_path / "dst"
    dst.mkdir()
    ir.save(model, dst / "out.onnx", external_data=True)
    assert (dst / "out.onnx.data").exists()
    again = onnx.load(str(dst / "out.onnx"))  # onnx resolves our external data
    np.testing.assert_array_equal(numpy_helper.to_array(again.graph.initializer[0]),
                                  np.arange(64 * 64).reshape(64, 64))


def test_save_inline_round_trips(tmp_path):
    model = ir.load(_mlp().SerializeToString())
    ir.save(model, tmp_path / "m.onnx")
    assert onnx.load(str(tmp_path / "m.onnx")).SerializeToString() == _mlp().SerializeToString()


@pytest.mark.slow
def test_a_model_over_2gb_saves_with_external_data(tmp_path):
    n = 2**31 // 4 + 1024  # just over 2 GiB of float32
    g = ir.Graph("big")
    x = g.add_input("x", ir.tensor(ir.DType.FLOAT, (n,)))
    w = g.add_initializer("w", ir.Tensor(np.zeros(n, np.float32)))
    y = g.append(ir.Node("Add", [x, w], outputs=["y"])).outputs[0]
    g.outputs.append(y)
    model = ir.Model(g, opset_imports={"": 18})
    ir.save(model, tmp_path / "big.onnx")   # too big for one message: external data chosen
    assert os.path.getsize(tmp_path / "big.onnx") < 10_000
    assert os.path.getsize(tmp_path / "big.onnx.data") >= n * 4
    back = ir.load(tmp_path / "big.onnx")
    assert back.graph.initializers["w"].const.shape == (n,)
