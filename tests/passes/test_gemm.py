"""MatMul + Add -> Gemm: fused where legal, left alone where not; outputs equal."""

import numpy as np
import pytest
from onnx import helper

from onyx.passes.gemm import GemmFusionPass
from onyx.passes.infra import run_pipeline
from onyx.passes.pipeline import copy_model
from onyx.passes.shape_inference import ShapeInferencePass

F = np.float32

# (id, a shape, bias shape, bias first, fused)
CASES = [
    ("bias_1d", [2, 3], [4], False, True),
    ("bias_row", [2, 3], [1, 4], False, True),
    ("bias_full", [2, 3], [2, 4], True, True),
    ("bias_column", [2, 3], [2, 1], False, True),
    ("bias_scalar_shape", [2, 3], [1], True, True),
    ("input_3d", [5, 2, 3], [4], False, False),
    ("bias_enlarges", [1, 3], [3, 4], False, False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_matmul_add(kit, case):
    _, a_shape, c_shape, bias_first, fused = case
    add_in = ["c", "m"] if bias_first else ["m", "c"]
    nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]),
             helper.make_node("Add", add_in, ["y"])]
    out = list(np.broadcast_shapes(tuple(a_shape[:-1]) + (4,), tuple(c_shape)))
    model = kit.build_model(nodes, [("a", a_shape)], [("y", out)],
                            {"w": np.arange(12, dtype=F).reshape(3, 4),
                             "c": np.arange(np.prod(c_shape), dtype=F).reshape(c_shape)})
    before = copy_model(model)
    run_pipeline(model, [ShapeInferencePass(), GemmFusionPass()])
    assert kit.op_types(model) == (["Gemm"] if fused else ["MatMul", "Add"])
    assert model.graph.outputs[0].name == "y"
    kit.check_model(model)
    kit.assert_same_outputs(before, model, kit.random_feeds(before))


def test_shared_matmul_is_not_fused(kit):
    nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]),
             helper.make_node("Add", ["m", "c"], ["y"]),
             helper.make_node("Relu", ["m"], ["z"])]
    model = kit.build_model(nodes, [("a", [2, 3])], [("y", [2, 4]), ("z", [2, 4])],
                            {"w": np.ones((3, 4), F), "c": np.ones(4, F)})
    run_pipeline(model, [ShapeInferencePass(), GemmFusionPass()])
    assert kit.op_types(model) == ["MatMul", "Add", "Relu"]


def test_integer_matmul_is_not_fused(kit):
    nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]),
             helper.make_node("Add", ["m", "c"], ["y"])]
    model = kit.build_model(nodes, [("a", [2, 3], 7)], [("y", [2, 4], 7)],
                            {"w": np.ones((3, 4), np.int64), "c": np.ones(4, np.int64)})
    p = GemmFusionPass()
    run_pipeline(model, [ShapeInferencePass(), p])
    assert kit.op_types(model) == ["MatMul", "Add"]
