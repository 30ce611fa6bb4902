"""Pass infrastructure and ``optimize``: report, fixed points, verification, levels, copies."""

import numpy as np
import pytest
from onnx import helper

from onyx import ir
from onyx.passes import PASSES, PIPELINE, Pass, PassManager, optimize, run_pipeline
from onyx.passes.dce import DeadCodeEliminationPass
from onyx.passes.pipeline import copy_model


class _CountDown(Pass):
    """Removes one trailing dead Neg per round: needs the fixed-point loop."""
    name = "countdown"
    fixed_point = True

    def run(self, model):
        g = model.graph
        for node in reversed(g.nodes):
            if node.op_type == "Neg" and not node.outputs[0].uses() \
                    and not node.outputs[0].is_graph_output():
                g.remove(node)
                return True
        return False


class _Breaker(Pass):
    name = "breaker"

    def run(self, model):
        model.graph.outputs.append(ir.Value("dangling"))
        return True


def _chain(kit):
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["a"]),
             helper.make_node("Neg", ["a"], ["b"]), helper.make_node("Neg", ["b"], ["c"])]
    return kit.build_model(nodes, [("x", [2])], [("y", [2])])


def test_fixed_point_and_report(kit):
    model = _chain(kit)
    seen = []
    report = PassManager([_CountDown(), DeadCodeEliminationPass()]).run(
        model, after_each=lambda p, m, r: seen.append((p.name, len(m.graph))))
    first = report.records[0]
    assert first.rounds == 4 and first.removed == 3 and first.changed
    assert first.nodes_before == 4 and first.nodes_after == 1
    assert not report.records[1].changed
    assert seen == [("countdown", 1), ("dce", 1)]
    text = report.format()
    assert "countdown" in text and "total" in text


def test_verify_catches_a_broken_pass(kit):
    with pytest.raises(ir.GraphError):
        run_pipeline(_chain(kit), [_Breaker()])
    run_pipeline(_chain(kit), [_Breaker()], verify=False)


def test_optimize_leaves_its_input_alone(kit):
    model = _chain(kit)
    text = ir.format_model(model)
    optimized, report = optimize(model, level=2)
    assert ir.format_model(model) == text
    assert kit.op_types(optimized) == ["Relu"]
    kit.assert_same_outputs(model, optimized, kit.random_feeds(model))


def test_levels(kit):
    model = _chain(kit)
    assert optimize(model, level=0)[1].records == []
    names1 = [r.name for r in optimize(model, level=1)[1].records]
    names2 = [r.name for r in optimize(model, level=2)[1].records]
    assert "gemm" not in names1 and "gemm" in names2 and "conv_bn" in names2
    assert set(names2) == set(PASSES) and len(names2) == len(PIPELINE)
    with pytest.raises(ValueError):
        optimize(model, level=3)


def test_level2_end_to_end(kit):
    """Folding, simplification, CSE and fusions together; old weights are dropped."""
    rng = np.random.default_rng(0)
    f = np.float32
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"]),
             helper.make_node("Identity", ["bn"], ["i"]),
             helper.make_node("Flatten", ["i"], ["fl"]),
             helper.make_node("Transpose", ["wt"], ["wtt"]),
             helper.make_node("MatMul", ["fl", "wtt"], ["mm"]),
             helper.make_node("Add", ["mm", "bias"], ["y"]),
             helper.make_node("Relu", ["fl"], ["r1"]), helper.make_node("Relu", ["fl"], ["r2"]),
             helper.make_node("Add", ["r1", "r2"], ["z"])]
    inits = {"w": rng.standard_normal((2, 3, 1, 1)).astype(f),
             "g": np.ones(2, f), "b": np.zeros(2, f), "m": np.zeros(2, f),
             "v": np.full(2, 4, f), "wt": rng.standard_normal((5, 8)).astype(f),
             "bias": np.ones(5, f)}
    model = kit.build_model(nodes, [("x", [1, 3, 2, 2])], [("y", [1, 5]), ("z", [1, 8])], inits)
    optimized, _ = optimize(model, level=2)
    assert kit.op_types(optimized) == ["Conv", "Flatten", "Gemm", "fused_0"]  # Relu+Add fused
    assert set(optimized.graph.initializers) & {"w", "g", "b", "m", "v"} == set()
    kit.check_model(optimized)
    kit.assert_same_outputs(model, optimized, kit.random_feeds(model), rtol=1e-4, atol=1e-5)


def test_copy_model_is_deep(kit):
    model = _chain(kit)
    copy = copy_model(model)
    copy.graph.remove(copy.graph.nodes[-1])
    assert len(model.graph) == 4
