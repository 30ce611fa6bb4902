"""Constant folding: structure, equal outputs and the size budget."""

import numpy as np
from onnx import TensorProto, helper

from onyx.passes.constant_folding import ConstantFoldingPass
from onyx.passes.infra import run_pipeline
from onyx.passes.pipeline import copy_model


def _fold(kit, model, **kw):
    before = copy_model(model)
    report = run_pipeline(model, [ConstantFoldingPass(**kw)])
    kit.check_model(model)
    kit.assert_same_outputs(before, model, kit.random_feeds(before))
    return report.records[0]


def test_constant_subexpression_becomes_initializer(kit):
    nodes = [helper.make_node("Constant", [], ["k"], value_float=2.0),
             helper.make_node("Mul", ["w", "k"], ["w2"]),
             helper.make_node("Transpose", ["w2"], ["wt"], perm=[1, 0]),
             helper.make_node("MatMul", ["x", "wt"], ["y"])]
    model = kit.build_model(nodes, [("x", [2, 4])], [("y", [2, 3])],
                            {"w": np.arange(12, dtype=np.float32).reshape(3, 4)})
    record = _fold(kit, model)
    assert kit.op_types(model) == ["MatMul"]
    assert record.removed == 3
    wt = model.graph.nodes[0].inputs[1]
    assert wt.name == "wt" and wt.const.shape == (4, 3)


def test_folded_graph_output_keeps_its_name(kit):
    nodes = [helper.make_node("Add", ["a", "a"], ["y"])]
    model = kit.build_model(nodes, [], [("y", [2])], {"a": np.ones(2, np.float32)})
    _fold(kit, model)
    assert len(model.graph) == 0 and model.graph.outputs[0].name == "y"
    np.testing.assert_array_equal(model.graph.initializers["y"].const.numpy(), [2, 2])


def test_huge_output_is_never_built(kit):
    """ConstantOfShape of 10**10 elements: the shape rule says too big, the kernel never runs."""
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"]),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"])]
    model = kit.build_model(nodes, [("x", [1])], [("y", [1])],
                            {"shape": np.array([10**5, 10**5], np.int64)})
    p = ConstantFoldingPass(max_bytes=1 << 20)
    assert not p.run(model)
    assert any("over 1048576 bytes" in n for n in p.notes)
    assert kit.op_types(model) == ["ConstantOfShape", "ReduceSum", "Add"]


def test_budget_is_configurable(kit):
    nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
             helper.make_node("Add", ["x", "r"], ["y"])]
    inits = {"s": np.array(0.0, np.float32), "l": np.array(1000.0, np.float32),
             "d": np.array(1.0, np.float32)}
    small = kit.build_model(nodes, [("x", [1000])], [("y", [1000])], inits)
    assert not ConstantFoldingPass(max_bytes=100).run(small)
    assert kit.op_types(small) == ["Range", "Add"]
    _fold(kit, small, max_bytes=4000)
    assert kit.op_types(small) == ["Add"]


def test_static_shape_folds_even_for_runtime_values(kit):
    nodes = [helper.make_node("Shape", ["x"], ["s"], start=1),
             helper.make_node("Reshape", ["x", "s2"], ["y"]),
             helper.make_node("Concat", ["one", "s"], ["s2"], axis=0)]
    nodes = [nodes[0], nodes[2], nodes[1]]
    model = kit.build_model(nodes, [("x", [2, 3])], [("y", [2, 3])],
                            {"one": np.array([-1], np.int64)})
    _fold(kit, model)
    assert kit.op_types(model) == ["Reshape"]


def test_inputs_that_are_graph_inputs_do_not_fold(kit):
    model = kit.build_model([helper.make_node("Neg", ["w"], ["y"])], [], [("y", [2])],
                            {"w": np.ones(2, np.float32)})
    model.graph.inputs.append(model.graph.initializers["w"])
    assert not ConstantFoldingPass().run(model)


def test_random_ops_do_not_fold(kit):
    nodes = [helper.make_node("RandomUniform", [], ["r"], shape=[2], dtype=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "r"], ["y"])]
    model = kit.build_model(nodes, [("x", [2])], [("y", [2])])
    assert not ConstantFoldingPass().run(model)
