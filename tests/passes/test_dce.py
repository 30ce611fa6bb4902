"""Dead-code elimination: structure and equal outputs."""

import numpy as np
from onnx import helper

from onyx import ir
from onyx.passes.dce import DeadCodeEliminationPass
from onyx.passes.infra import run_pipeline
from onyx.passes.pipeline import copy_model


def _run(model):
    before = copy_model(model)
    report = run_pipeline(model, [DeadCodeEliminationPass()])
    return before, report.records[0]


def test_dead_chain_and_unused_initializer_go(kit):
    nodes = [helper.make_node("Relu", ["x"], ["y"]),
             helper.make_node("Add", ["x", "w"], ["dead1"]),
             helper.make_node("Neg", ["dead1"], ["dead2"])]
    model = kit.build_model(nodes, [("x", [2, 3])], [("y", [2, 3])],
                            {"w": np.ones((2, 3), np.float32),
                             "unused": np.zeros(4, np.float32)})
    before, record = _run(model)
    assert kit.op_types(model) == ["Relu"]
    assert model.graph.initializers == {}
    assert record.removed == 2 and record.changed
    kit.check_model(model)
    kit.assert_same_outputs(before, model, kit.random_feeds(before))


def test_initializer_listed_as_input_stays(kit):
    model = kit.build_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [2])], [("y", [2])],
                            {"w": np.ones(2, np.float32)})
    w = model.graph.initializers["w"]
    model.graph.inputs.append(w)  # an overridable input: part of the interface
    assert not DeadCodeEliminationPass().run(model)
    assert "w" in model.graph.initializers


def test_subgraph_liveness(kit):
    """A value read only inside a live If branch stays; a dead If releases its outer reads."""
    then = helper.make_graph([helper.make_node("Neg", ["a"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", 1, [2])])
    other = helper.make_graph([helper.make_node("Identity", ["b"], ["e"]),
                               helper.make_node("Abs", ["b"], ["unused_in_body"])], "else", [],
                              [helper.make_tensor_value_info("e", 1, [2])])
    dead_if = helper.make_graph([helper.make_node("Exp", ["c"], ["d"])], "d", [],
                                [helper.make_tensor_value_info("d", 1, [2])])
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Sigmoid", ["x"], ["b"]),
             helper.make_node("Tanh", ["x"], ["c"]),
             helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other),
             helper.make_node("If", ["cond"], ["z"], then_branch=dead_if, else_branch=dead_if)]
    model = kit.build_model(nodes, [("x", [2]), ("cond", [], 9)], [("y", [2])])
    before, _ = _run(model)
    assert kit.op_types(model) == ["Relu", "Sigmoid", "If"]
    body = model.graph.nodes[2].attributes["else_branch"].value
    assert [n.op_type for n in body] == ["Identity"]
    kit.check_model(model)
    for cond in (True, False):
        feeds = {"x": np.array([-1.0, 2.0], np.float32), "cond": np.array(cond)}
        kit.assert_same_outputs(before, model, feeds)


def test_nothing_dead_is_no_change(kit):
    model = kit.build_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [2])], [("y", [2])])
    assert not DeadCodeEliminationPass().run(model)
    assert isinstance(model.graph.nodes[0], ir.Node)
