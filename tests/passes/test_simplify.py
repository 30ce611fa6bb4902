"""Algebraic simplification rules: each removes what it should, keeps what it must, and the
outputs stay equal."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from onyx.passes.infra import run_pipeline
from onyx.passes.pipeline import copy_model
from onyx.passes.shape_inference import ShapeInferencePass
from onyx.passes.simplify import SimplifyPass

F = np.float32
I64 = np.int64
X = ("x", [2, 3])

# (id, nodes, inputs, initializers, output shape, expected ops after)
REMOVED = [
    ("identity", [("Identity", ["x"], ["y"], {})], [X], {}, [2, 3], []),
    ("dropout", [("Dropout", ["x"], ["y"], {})], [X], {}, [2, 3], []),
    ("cast_same", [("Cast", ["x"], ["y"], {"to": TensorProto.FLOAT})], [X], {}, [2, 3], []),
    ("reshape_same", [("Reshape", ["x", "s"], ["y"], {})], [X], {"s": np.array([2, -1], I64)},
     [2, 3], []),
    ("expand_same", [("Expand", ["x", "s"], ["y"], {})], [X], {"s": np.array([1, 3], I64)},
     [2, 3], []),
    ("slice_full", [("Slice", ["x", "b", "e"], ["y"], {})], [X],
     {"b": np.array([0], I64), "e": np.array([100], I64)}, [2, 3], []),
    ("transpose_id", [("Transpose", ["x"], ["y"], {"perm": [0, 1]})], [X], {}, [2, 3], []),
    ("transpose_pair", [("Transpose", ["x"], ["t"], {"perm": [1, 0]}),
                        ("Transpose", ["t"], ["y"], {})], [X], {}, [2, 3], []),
    ("transpose_pair_3d", [("Transpose", ["x3"], ["t"], {"perm": [1, 2, 0]}),
                           ("Transpose", ["t"], ["y"], {"perm": [1, 0, 2]})],
     [("x3", [2, 3, 4])], {}, [4, 3, 2], ["Transpose"]),
    ("mul_one", [("Mul", ["x", "c"], ["y"], {})], [X], {"c": np.ones(3, F)}, [2, 3], []),
    ("one_mul", [("Mul", ["c", "x"], ["y"], {})], [X], {"c": np.array(1, F)}, [2, 3], []),
    ("add_zero", [("Add", ["x", "c"], ["y"], {})], [X], {"c": np.zeros(1, F)}, [2, 3], []),
    ("zero_add", [("Add", ["c", "x"], ["y"], {})], [X], {"c": np.zeros((2, 3), F)}, [2, 3], []),
    ("sub_zero", [("Sub", ["x", "c"], ["y"], {})], [X], {"c": np.zeros(1, F)}, [2, 3], []),
    ("div_one", [("Div", ["x", "c"], ["y"], {})], [X], {"c": np.ones(1, F)}, [2, 3], []),
    ("matmul_ta", [("Transpose", ["a"], ["t"], {}), ("MatMul", ["t", "w"], ["y"], {})],
     [("a", [4, 2])], {"w": np.ones((4, 3), F)}, [2, 3], ["Gemm"]),
    ("matmul_tb", [("Transpose", ["w"], ["t"], {}), ("MatMul", ["x", "t"], ["y"], {})],
     [X, ("w", [5, 3])], {}, [2, 5], ["Gemm"]),
    ("gemm_ta_tb", [("Transpose", ["a"], ["t"], {}), ("Transpose", ["w"], ["u"], {}),
                    ("MatMul", ["t", "u"], ["y"], {})],
     [("a", [3, 2]), ("w", [4, 3])], {}, [2, 4], ["Gemm"]),
]

KEPT = [
    ("cast_other", [("Cast", ["x"], ["y"], {"to": TensorProto.DOUBLE})], [X], {}, [2, 3],
     ["Cast"]),
    ("reshape_other", [("Reshape", ["x", "s"], ["y"], {})], [X], {"s": np.array([3, 2], I64)},
     [3, 2], ["Reshape"]),
    ("expand_bigger", [("Expand", ["x", "s"], ["y"], {})], [X], {"s": np.array([4, 2, 3], I64)},
     [4, 2, 3], ["Expand"]),
    ("slice_reverse", [("Slice", ["x", "b", "e", "ax", "st"], ["y"], {})], [X],
     {"b": np.array([-1], I64), "e": np.array([-100], I64), "ax": np.array([1], I64),
      "st": np.array([-1], I64)}, [2, 3], ["Slice"]),
    ("mul_two", [("Mul", ["x", "c"], ["y"], {})], [X], {"c": np.full(3, 2, F)}, [2, 3], ["Mul"]),
    ("add_zero_broadcasts", [("Add", ["x", "c"], ["y"], {})], [X], {"c": np.zeros((4, 1, 1), F)},
     [4, 2, 3], ["Add"]),
    ("dropout_training", [("Dropout", ["x", "r", "m"], ["y"], {})], [X],
     {"r": np.array(0.0, F), "m": np.array(True)}, [2, 3], ["Dropout"]),
    ("matmul_3d", [("Transpose", ["x3"], ["t"], {"perm": [0, 2, 1]}),
                   ("MatMul", ["t", "x3"], ["y"], {})], [("x3", [2, 3, 4])], {}, [2, 4, 4],
     ["Transpose", "MatMul"]),
]


def _model(kit, nodes, inputs, inits, out_shape):
    made = [helper.make_node(op, ins, outs, **attrs) for op, ins, outs, attrs in nodes]
    # the computed value feeds a Relu so that simplifying never renames a graph output
    made.append(helper.make_node("Relu", ["y"], ["out"]))
    return kit.build_model(made, inputs, [("out", out_shape)], inits)


@pytest.mark.parametrize("case", REMOVED + KEPT, ids=lambda c: c[0])
def test_rule(kit, case):
    _, nodes, inputs, inits, out_shape, expected = case
    model = _model(kit, nodes, inputs, inits, out_shape)
    before = copy_model(model)
    run_pipeline(model, [ShapeInferencePass(), SimplifyPass()])
    assert kit.op_types(model) == expected + ["Relu"]
    kit.check_model(model)
    kit.assert_same_outputs(before, model, kit.random_feeds(before))


def test_identity_at_graph_output_keeps_the_name(kit):
    nodes = [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Identity", ["h"], ["y"])]
    model = kit.build_model(nodes, [X], [("y", [2, 3])])
    before = copy_model(model)
    run_pipeline(model, [SimplifyPass()])
    assert kit.op_types(model) == ["Relu"] and model.graph.outputs[0].name == "y"
    kit.assert_same_outputs(before, model, kit.random_feeds(before))


def test_identity_of_graph_input_to_output_stays_and_says_why(kit):
    model = kit.build_model([helper.make_node("Identity", ["x"], ["y"])], [X], [("y", [2, 3])])
    p = SimplifyPass()
    assert not p.run(model)
    assert any("graph output" in n for n in p.notes)


def test_failed_check_reason_is_reported(kit):
    model = _model(kit, *KEPT[0][1:5])
    report = run_pipeline(model, [ShapeInferencePass(), SimplifyPass()])
    notes = report.records[1].notes
    assert any(n.startswith("RemoveCastToSameType at Cast") and "differs" in n for n in notes)
