"""IR building blocks: use-def links, mutators, verify, order, printer, dot."""

import numpy as np
import pytest

from onyx import ir


def _chain():
    g = ir.Graph("g")
    x = g.add_input("x", ir.tensor(ir.DType.FLOAT, ("n", 3)))
    a = g.append(ir.Node("Relu", [x], outputs=["a"]))
    b = g.append(ir.Node("Neg", [a.outputs[0]], outputs=["b"]))
    g.outputs.append(b.outputs[0])
    return g, x, a, b


def test_values_know_producer_and_uses():
    g, x, a, b = _chain()
    assert a.outputs[0].producer is a
    assert x.uses() == [(a, 0)]
    assert a.outputs[0].uses() == [(b, 0)]
    g.verify()


def test_replace_all_uses_with_updates_readers_and_graph_outputs():
    g, x, a, b = _chain()
    b.outputs[0].replace_all_uses_with(x)
    assert g.outputs == [x]
    a.outputs[0].replace_all_uses_with(x)
    assert b.inputs[0] is x and a.outputs[0].uses() == []
    g.remove(b)
    g.remove(a)
    assert len(g) == 0 and x.uses() == []
    g.verify()


def test_remove_refuses_a_node_whose_output_is_used():
    g, x, a, b = _chain()
    with pytest.raises(ir.GraphError, match="still used"):
        g.remove(a)


def test_insert_before_and_after_keep_order():
    g, x, a, b = _chain()
    c = ir.Node("Abs", [x], outputs=["c"])
    g.insert_before(a, c)
    d = ir.Node("Exp", [c.outputs[0]], outputs=["d"])
    g.insert_after(c, d)
    assert [n.op_type for n in g] == ["Abs", "Exp", "Relu", "Neg"]
    g.verify()


def test_verify_catches_use_before_definition_and_cycles():
    g, x, a, b = _chain()
    g._nodes.reverse()  # breaks topological order behind the API's back
    with pytest.raises(ir.GraphError, match="before it is defined"):
        g.verify()
    g.sort()
    g.verify()
    a.set_input(0, b.outputs[0])  # a reads b, b reads a
    with pytest.raises(ir.GraphError, match="cycle"):
        g.sort()
    assert ir.find_cycle(g) is not None


def test_networkx_view_and_dot():
    g, *_ = _chain()
    dg = ir.to_networkx(g)
    assert dg.number_of_nodes() == 2 and dg.number_of_edges() == 1
    dot = ir.to_dot(g)
    assert dot.startswith('digraph "g"') and "Relu" in dot and "->" in dot


def test_printer_shows_ops_types_and_attributes():
    g = ir.Graph("main")
    x = g.add_input("x", ir.tensor(ir.DType.FLOAT, ("N", 4)))
    w = g.add_initializer("w", ir.Tensor(np.ones((4, 2), np.float32)))
    mm = g.append(ir.Node("MatMul", [x, w], outputs=["h"], name="fc"))
    mm.outputs[0].type = ir.tensor(ir.DType.FLOAT, ("N", 2))
    sm = g.append(ir.Node("Softmax", [mm.outputs[0]], {"axis": -1}, outputs=["y"]))
    g.outputs.append(sm.outputs[0])
    text = ir.format_model(ir.Model(g, opset_imports={"": 18}))
    assert "graph main (x: f32[N,4]) -> (y)" in text
    assert "init w: f32[4,2]" in text
    assert "%h: f32[N,2] = MatMul(%x, %w)  # fc" in text
    assert "%y = Softmax(%h)  {axis=-1}" in text


def test_attribute_types_are_inferred():
    assert ir.Attribute.infer("a", 1).type is ir.AttrType.INT
    assert ir.Attribute.infer("a", 1.5).type is ir.AttrType.FLOAT
    assert ir.Attribute.infer("a", [1, 2]).type is ir.AttrType.INTS
    assert ir.Attribute.infer("a", [1.0, 2]).type is ir.AttrType.FLOATS
    assert ir.Attribute.infer("a", "s").type is ir.AttrType.STRING
    with pytest.raises(TypeError):
        ir.Attribute.infer("a", object())


@pytest.mark.parametrize("dtype", list(ir.DType)[1:])
def test_every_onnx_dtype_maps_to_numpy_and_back(dtype):
    np_dtype = dtype.numpy
    if dtype is ir.DType.STRING:
        assert np_dtype == np.dtype(object)
    else:
        assert ir.DType.from_numpy(np_dtype) is dtype


@pytest.mark.parametrize("dtype", [d for d in list(ir.DType)[1:] if d is not ir.DType.STRING])
def test_every_dtype_survives_a_tensor_round_trip(dtype):
    from onnx import numpy_helper
    values = np.array([0, 1, 1, 0, 1, 1], dtype=np.float32).reshape(2, 3)
    if dtype in (ir.DType.COMPLEX64, ir.DType.COMPLEX128):
        values = values + 1j
    arr = values.astype(dtype.numpy)
    t = ir.Tensor(proto=numpy_helper.from_array(arr, "t"))
    assert t.dtype is dtype and t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy().astype(np.complex128),
                                  arr.astype(np.complex128))
