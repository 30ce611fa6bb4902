"""The shape-inference pass types intermediates and reports a change only once."""

from onnx import helper

from onyx.passes.shape_inference import ShapeInferencePass


def test_types_intermediates_then_reports_no_change(kit):
    nodes = [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Neg", ["h"], ["y"])]
    model = kit.build_model(nodes, [("x", ["n", 3])], [("y", None)])
    p = ShapeInferencePass()
    assert p.run(model)
    assert str(model.graph.nodes[0].outputs[0].type) == "f32[n,3]"
    assert not p.run(model)
