"""Malformed and malicious models give an OnyxError and harm nothing."""

import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import onyx
import onyx.backend
from onyx import ir


def _relu_model(opset=18):
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [2, 3])],
                          [helper.make_tensor_value_info("y", 1, [2, 3])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_truncated_file_is_a_model_error(tmp_path):
    data = _relu_model().SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(onyx.ModelError, match="not a valid ONNX model"):
        ir.load(p)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_a_model_error(seed):
    data = np.random.default_rng(seed).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(onyx.ModelError):
        ir.load(data)


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(onyx.ModelError, match="no model file"):
        ir.load(tmp_path / "nope.onnx")


def test_a_cycle_is_refused():
    a = helper.make_node("Relu", ["b"], ["a"], name="first")
    b = helper.make_node("Relu", ["a"], ["b"], name="second")
    g = helper.make_graph([a, b], "g", [], [helper.make_tensor_value_info("b", 1, [1])])
    with pytest.raises(onyx.GraphError, match="before it is defined"):
        ir.load(helper.make_model(g).SerializeToString())


def test_use_of_an_undefined_value_is_refused():
    node = helper.make_node("Relu", ["ghost"], ["y"], name="r")
    g = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", 1, [1])])
    with pytest.raises(onyx.GraphError, match="'ghost' but nothing defines it"):
        ir.load(helper.make_model(g).SerializeToString())


def test_huge_declared_initializer_is_refused_before_allocating():
    t = onnx.TensorProto(name="w", data_type=onnx.TensorProto.FLOAT, dims=[2**31, 2**31])
    t.raw_data = b"\0" * 16
    node = helper.make_node("Add", ["x", "w"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [1])],
                          [helper.make_tensor_value_info("y", 1, None)], [t])
    model = ir.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
                    .SerializeToString())
    with pytest.raises(onyx.LimitError, match="over the limit"):
        model.graph.initializers["w"].const.numpy()


def test_dims_whose_product_is_negative_are_refused():
    t = onnx.TensorProto(name="w", data_type=onnx.TensorProto.FLOAT, dims=[-4, 2])
    with pytest.raises(onyx.LimitError, match="negative"):
        ir.Tensor(proto=t).numpy()


def _external_model(location: str) -> onnx.ModelProto:
    t = onnx.TensorProto(name="w", data_type=onnx.TensorProto.FLOAT, dims=[4])
    t.data_location = onnx.TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    node = helper.make_node("Add", ["x", "w"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [4])],
                          [helper.make_tensor_value_info("y", 1, [4])], [t])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "a/../../secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    folder = tmp_path / "model"
    folder.mkdir()
    p = folder / "m.onnx"
    p.write_bytes(_external_model(location).SerializeToString())
    with pytest.raises(onyx.ModelError, match="model's folder"):
        ir.load(p)


def test_external_data_symlink_leaving_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    folder = tmp_path / "model"
    folder.mkdir()
    os.symlink(tmp_path / "secret.bin", folder / "w.bin")
    p = folder / "m.onnx"
    p.write_bytes(_external_model("w.bin").SerializeToString())
    with pytest.raises(onyx.ModelError, match="resolves outside"):
        ir.load(p)


def test_external_data_range_past_the_file_is_refused(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\0" * 8)  # 4 floats need 16 bytes
    p = tmp_path / "m.onnx"
    p.write_bytes(_external_model("w.bin").SerializeToString())
    model = ir.load(p)
    with pytest.raises(onyx.ModelError, match="outside"):
        model.graph.initializers["w"].const.numpy()


def _nested_if(depth: int) -> onnx.GraphProto:
    out = helper.make_tensor_value_info("y", 1, [1])
    body = helper.make_graph([helper.make_node("Constant", [], ["y"], value=numpy_helper
                                               .from_array(np.ones(1, np.float32)))],
                             "leaf", [], [out])
    leaf = body
    for i in range(depth):  # one deep branch, one shallow: the file grows linearly
        node = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=leaf)
        body = helper.make_graph([node], f"level{i}", [], [out])
    return body


def test_deeply_nested_subgraphs_are_refused(monkeypatch):
    # protobuf refuses messages nested past 100 levels (~33 If levels); our own limit is
    # configurable and applies to graphs built in memory too
    monkeypatch.setattr(ir.limits, "max_nesting_depth", 16)
    g = _nested_if(30)
    g.input.append(helper.make_tensor_value_info("c", onnx.TensorProto.BOOL, []))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(onyx.LimitError, match="nested deeper"):
        ir.load(model.SerializeToString())


def test_recursive_local_functions_are_refused():
    f = helper.make_function("local", "F", ["a"], ["b"],
                             [helper.make_node("G", ["a"], ["b"], domain="local")],
                             [helper.make_opsetid("", 18), helper.make_opsetid("local", 1)])
    gfn = helper.make_function("local", "G", ["a"], ["b"],
                               [helper.make_node("F", ["a"], ["b"], domain="local")],
                               [helper.make_opsetid("", 18), helper.make_opsetid("local", 1)])
    node = helper.make_node("F", ["x"], ["y"], domain="local")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [1])],
                          [helper.make_tensor_value_info("y", 1, [1])])
    model = helper.make_model(g, functions=[f, gfn], opset_imports=[
        helper.make_opsetid("", 18), helper.make_opsetid("local", 1)])
    with pytest.raises(onyx.ModelError, match="recursive local function call"):
        onyx.backend.prepare(model.SerializeToString())


def test_unsupported_op_names_op_domain_opset_and_node():
    node = helper.make_node("NoSuchOp", ["x"], ["y"], name="mystery", domain="acme")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [1])],
                          [helper.make_tensor_value_info("y", 1, [1])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18),
                                                helper.make_opsetid("acme", 3)])
    with pytest.raises(onyx.UnsupportedOpError) as err:
        onyx.backend.prepare(model.SerializeToString())
    msg = str(err.value)
    assert "acme::NoSuchOp" in msg and "opset 3" in msg and "'mystery'" in msg


def test_wrong_inputs_say_which_input_and_what_was_expected():
    rep = onyx.backend.prepare(_relu_model().SerializeToString())
    with pytest.raises(onyx.InputError, match="input 'x' expects FLOAT"):
        rep.run([np.zeros((2, 3), np.float64)])
    with pytest.raises(onyx.InputError, match=r"dimension 1 is 4, not 3"):
        rep.run([np.zeros((2, 4), np.float32)])
    with pytest.raises(onyx.InputError, match="missing input"):
        rep.executor.run({})
    with pytest.raises(onyx.InputError, match="unknown input"):
        rep.executor.run({"x": np.zeros((2, 3), np.float32), "z": 1})


def test_nan_and_inf_propagate_without_crashing():
    rep = onyx.backend.prepare(_relu_model().SerializeToString())
    x = np.array([[np.nan, np.inf, -np.inf], [1, -1, 0]], np.float32)
    (y,) = rep.run([x])
    assert np.isnan(y[0, 0]) and y[0, 1] == np.inf and y[0, 2] == 0


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    p = tmp_path / "m.onnx"
    p.write_bytes(b"old")
    model = ir.load(_relu_model().SerializeToString())

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(ir.io, "to_onnx", boom)
    with pytest.raises(RuntimeError):
        ir.save(model, p)
    assert p.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]
