"""Fused execution on NumPy: bit-identical results to running the body node by node, buffer
reuse inside a group and across the graph, and no reuse of a buffer a view still reads."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from onyx import ir
from onyx.backends.numpy.executor import Executor
from onyx.backends.numpy.fused import BufferPool, FusedGroup
from onyx.ir.errors import OnyxError
from onyx.passes.fusion import ElementwiseFusionPass
from onyx.passes.pipeline import copy_model

F32, F64, F16, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.INT64
CHAIN = ["Add", "Mul", "Tanh", "Sub", "Exp", "Neg", "Relu", "Abs"]


def model_of(nodes, inputs, outputs, inits=None, opset=18) -> ir.Model:
    def info(name, shape, t):
        return helper.make_tensor_value_info(name, t, shape)
    graph = helper.make_graph(nodes, "g", [info(*i) for i in inputs], [info(*o) for o in outputs],
                              [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    return ir.from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))


def chain_model(shape, elem=F32, ops=CHAIN) -> ir.Model:
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        out = "z" if i == len(ops) - 1 else f"t{i}"
        ins = [prev, "y"] if op in ("Add", "Mul", "Sub", "Div") else [prev]
        nodes.append(helper.make_node(op, ins, [out]))
        prev = out
    return model_of(nodes, [("x", shape, elem), ("y", [shape[-1]], elem)], [("z", shape, elem)])


def fused_copy(model: ir.Model) -> ir.Model:
    fused = copy_model(model)
    assert ElementwiseFusionPass().run(fused)
    return fused


def feeds_for(model: ir.Model, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for v in model.graph.inputs:
        dt = v.dtype.numpy
        out[v.name] = (rng.standard_normal(v.shape) if np.issubdtype(dt, np.floating)
                       else rng.integers(-4, 5, v.shape)).astype(dt)
    return out


def node_by_node(model: ir.Model, feeds) -> list:
    """The body ops run one by one with their kernels (the fast paths turned off)."""
    ex = Executor(model)
    for step in ex.plan.steps:
        if step.pooled:
            step.pooled = step.inplace = False
            fn = step.fn
            if isinstance(fn, FusedGroup):
                plan = fn.plan
                step.fn = lambda *a, plan=plan: tuple(plan.run(list(a), {}, check=False))
            else:
                step.fn, step.attrs = fn.kernel, fn.attrs
    return ex.run(feeds)


@pytest.mark.parametrize("elem", [F32, F64, F16, I64], ids=["f32", "f64", "f16", "i64"])
def test_fused_chain_is_bit_identical(elem):
    ops = [op for op in CHAIN if elem != I64 or op not in ("Tanh", "Exp")]
    model = chain_model([16, 32], elem, ops)
    fused = fused_copy(model)
    feeds = feeds_for(model)
    expected = node_by_node(model, feeds)
    got = Executor(fused).run(feeds)
    assert got[0].dtype == expected[0].dtype
    np.testing.assert_array_equal(got[0], expected[0])


def test_chain_of_eight_reuses_one_buffer():
    model = chain_model([64, 64])
    fused = fused_copy(model)
    ex = Executor(fused)
    out = ex.run(feeds_for(model))
    assert out[0].shape == (64, 64)
    stats = ex.last_run
    # Add's output is the first buffer; every later op writes over its dying input.
    assert stats["run_allocated"] == 1 and stats["run_reused"] == len(CHAIN) - 1


def test_unfused_elementwise_ops_reuse_buffers_too():
    model = chain_model([32, 8])
    ex = Executor(model)
    ex.run(feeds_for(model))
    assert ex.last_run["run_allocated"] == 1


def test_where_cast_and_broadcast_fall_back_to_kernels():
    nodes = [helper.make_node("Greater", ["x", "y"], ["g"]),
             helper.make_node("Cast", ["x"], ["h"], to=F16),
             helper.make_node("Where", ["g", "h", "k"], ["w"]),
             helper.make_node("Cast", ["w"], ["c"], to=F32),
             helper.make_node("Mul", ["c", "y"], ["m"]),
             helper.make_node("Sigmoid", ["m"], ["z"])]
    model = model_of(nodes, [("x", [3, 4, 5], F32), ("y", [4, 1], F32), ("k", [5], F16)],
                     [("z", [3, 4, 5], F32)])
    fused = fused_copy(model)
    assert len(fused.graph) == 1
    feeds = feeds_for(model)
    np.testing.assert_array_equal(Executor(fused).run(feeds)[0], node_by_node(model, feeds)[0])
    ref = ReferenceEvaluator(ir.to_onnx(model)).run(None, feeds)[0]
    np.testing.assert_allclose(Executor(fused).run(feeds)[0], ref, rtol=1e-6)


def test_buffer_behind_a_view_is_not_reused():
    # y = fused(x) feeds a Reshape (a view); after Reshape, y is dead but the view lives on.
    # Exp(x2) then needs a buffer of y's shape: it must not get y's.
    nodes = [helper.make_node("Add", ["x", "x"], ["a"]), helper.make_node("Neg", ["a"], ["y"]),
             helper.make_node("Reshape", ["y", "shape"], ["v"]),
             helper.make_node("Exp", ["x2"], ["e"]), helper.make_node("Abs", ["e"], ["w"])]
    model = model_of(nodes, [("x", [4, 6], F32), ("x2", [4, 6], F32)],
                     [("v", [24], F32), ("w", [4, 6], F32)],
                     {"shape": np.array([24], np.int64)})
    for m in (model, fused_copy(model)):
        feeds = feeds_for(m)
        v, w = Executor(m).run(feeds)
        np.testing.assert_array_equal(v, -(feeds["x"] + feeds["x"]).reshape(24))
        np.testing.assert_array_equal(w, np.abs(np.exp(feeds["x2"])))


def test_identity_alias_is_not_reused():
    nodes = [helper.make_node("Exp", ["x"], ["a"]), helper.make_node("Identity", ["a"], ["i"]),
             helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Abs", ["n"], ["z"])]
    model = model_of(nodes, [("x", [5, 5], F32)], [("i", [5, 5], F32), ("z", [5, 5], F32)])
    feeds = feeds_for(model)
    i, z = Executor(model).run(feeds)
    np.testing.assert_array_equal(i, np.exp(feeds["x"]))
    np.testing.assert_array_equal(z, np.abs(-feeds["x"]))


def test_reduction_group_matches_reference():
    nodes = [helper.make_node("Sub", ["x", "y"], ["d"]), helper.make_node("Mul", ["d", "d"], ["s"]),
             helper.make_node("ReduceMean", ["s", "axes"], ["z"], keepdims=0)]
    model = model_of(nodes, [("x", [6, 7], F32), ("y", [7], F32)], [("z", [6], F32)],
                     {"axes": np.array([1], np.int64)})
    fused = fused_copy(model)
    feeds = feeds_for(model)
    ref = ReferenceEvaluator(ir.to_onnx(model)).run(None, feeds)[0]
    np.testing.assert_allclose(Executor(fused).run(feeds)[0], ref, rtol=1e-6)


def test_broadcast_error_names_the_op_and_shapes():
    nodes = [helper.make_node("Add", ["x", "y"], ["a"]), helper.make_node("Exp", ["a"], ["z"])]
    model = model_of(nodes, [("x", [3, 4], F32), ("y", ["n"], F32)], [("z", [3, 4], F32)])
    ex = Executor(fused_copy(model))
    with pytest.raises(OnyxError, match=r"Add.*\[3, 4\].*\[5\]"):
        ex.run({"x": np.zeros((3, 4), np.float32), "y": np.zeros(5, np.float32)})


def test_pool_takes_back_only_what_it_owns():
    pool = BufferPool()
    foreign = np.zeros(3, np.float32)
    pool.give(foreign)
    assert pool.take((3,), np.dtype(np.float32)) is not foreign
    a = pool.take((2,), np.dtype(np.float32))
    pool.escape(a)
    pool.give(a)
    assert pool.take((2,), np.dtype(np.float32)) is not a


def test_memory_report_of_executor():
    model = chain_model([128, 64])
    ex = Executor(fused_copy(model))
    report = ex.memory_report(feeds_for(model))
    # one fused node, its one output: 128*64 float32
    assert report["buffers"] == 1 and report["planned_bytes"] == 128 * 64 * 4
    assert report["run_allocated"] == 1
    plain = Executor(model).memory_report(feeds_for(model))
    assert plain["unplanned_bytes"] == len(CHAIN) * 128 * 64 * 4
    assert plain["planned_bytes"] == 128 * 64 * 4  # each op writes over its dying input


def test_group_writes_over_an_input_that_dies_there():
    # a = Exp(x) dies in the group Add(a, m) -> Neg: the group's result takes a's buffer.
    nodes = [helper.make_node("Exp", ["x"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["m"]),
             helper.make_node("Add", ["a", "m"], ["s"]), helper.make_node("Neg", ["s"], ["z"])]
    model = model_of(nodes, [("x", [8, 8], F32), ("w", [8, 8], F32)], [("z", [8, 8], F32)])
    fused = fused_copy(model)
    assert [n.op_type for n in fused.graph] == ["Exp", "MatMul", "fused_0"]
    feeds = feeds_for(model)
    ex = Executor(fused)
    got = ex.run(feeds)[0]
    np.testing.assert_array_equal(got, node_by_node(model, feeds)[0])
    assert ex.last_run["run_allocated"] == 1 and ex.last_run["run_reused"] == 2


def test_buffer_read_by_a_subgraph_is_not_reused():
    # The If returns a view of the outer a; a dies at the If, then Abs wants a buffer like a's.
    out_info = [helper.make_tensor_value_info("o", F32, [3, 3])]
    shape = helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(
        np.array([3, 3], np.int64)))
    then_g = helper.make_graph([shape, helper.make_node("Reshape", ["a", "s"], ["o"])], "then",
                               [], out_info)
    else_g = helper.make_graph([helper.make_node("Neg", ["a"], ["o"])], "else", [], out_info)
    nodes = [helper.make_node("Exp", ["x"], ["a"]),
             helper.make_node("If", ["c"], ["r"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Abs", ["x2"], ["z"])]
    model = model_of(nodes, [("x", [3, 3], F32), ("x2", [3, 3], F32), ("c", [], TensorProto.BOOL)],
                     [("r", [3, 3], F32), ("z", [3, 3], F32)])
    feeds = feeds_for(model)
    feeds["c"] = np.array(True)
    r, z = Executor(model).run(feeds)
    np.testing.assert_array_equal(r, np.exp(feeds["x"]))
    np.testing.assert_array_equal(z, np.abs(feeds["x2"]))
