"""Common-subexpression elimination: structure and equal outputs."""

import numpy as np
import pytest
from onnx import helper

from onyx.passes.cse import CommonSubexpressionEliminationPass
from onyx.passes.infra import run_pipeline
from onyx.passes.pipeline import copy_model


def _cse(kit, nodes, inputs, outputs, inits=()):
    model = kit.build_model(nodes, inputs, outputs, inits)
    before = copy_model(model)
    run_pipeline(model, [CommonSubexpressionEliminationPass()])
    kit.check_model(model)
    kit.assert_same_outputs(before, model, kit.random_feeds(before))
    return model


def test_duplicate_chain_merges(kit):
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["x"], ["b"]),
             helper.make_node("Exp", ["a"], ["c"]), helper.make_node("Exp", ["b"], ["d"]),
             helper.make_node("Add", ["c", "d"], ["y"])]
    model = _cse(kit, nodes, [("x", [3])], [("y", [3])])
    assert kit.op_types(model) == ["Relu", "Exp", "Add"]


def test_equal_constants_merge_then_nodes(kit):
    nodes = [helper.make_node("Add", ["x", "c1"], ["a"]),
             helper.make_node("Add", ["x", "c2"], ["b"]),
             helper.make_node("Mul", ["a", "b"], ["y"])]
    c = np.arange(3, dtype=np.float32)
    model = _cse(kit, nodes, [("x", [3])], [("y", [3])], {"c1": c, "c2": c.copy()})
    assert kit.op_types(model) == ["Add", "Mul"]


@pytest.mark.parametrize("case", ["attrs", "random", "graph_outputs"])
def test_not_merged(kit, case):
    if case == "attrs":
        nodes = [helper.make_node("Softmax", ["x"], ["a"], axis=0),
                 helper.make_node("Softmax", ["x"], ["b"], axis=1)]
    elif case == "random":
        nodes = [helper.make_node("RandomUniformLike", ["x"], ["a"]),
                 helper.make_node("RandomUniformLike", ["x"], ["b"])]
    else:
        nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["x"], ["b"])]
    model = kit.build_model(nodes, [("x", [2, 3])], [("a", [2, 3]), ("b", [2, 3])])
    assert not CommonSubexpressionEliminationPass().run(model)
    assert len(model.graph) == 2
