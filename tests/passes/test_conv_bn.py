"""Conv + BatchNormalization / per-channel Mul / Add folded into the Conv; outputs equal."""

import numpy as np
import pytest
from onnx import helper

from onyx.passes.conv_bn import ConvBatchNormFusionPass
from onyx.passes.infra import run_pipeline
from onyx.passes.pipeline import copy_model
from onyx.passes.shape_inference import ShapeInferencePass

F = np.float32
RNG = np.random.default_rng(1)


def _conv_inits(bias: bool, channels: int = 4) -> dict:
    inits = {"w": RNG.standard_normal((channels, 3, 3, 3)).astype(F)}
    if bias:
        inits["b"] = RNG.standard_normal(channels).astype(F)
    return inits


def _bn_inits(channels: int = 4) -> dict:
    return {"gamma": RNG.standard_normal(channels).astype(F),
            "beta": RNG.standard_normal(channels).astype(F),
            "mean": RNG.standard_normal(channels).astype(F),
            "var": RNG.uniform(0.5, 2, channels).astype(F)}


def _run(kit, nodes, inits, out_shape=(1, 4, 6, 6)):
    model = kit.build_model(nodes, [("x", [1, 3, 8, 8])], [("y", list(out_shape))], inits)
    before = copy_model(model)
    run_pipeline(model, [ShapeInferencePass(), ConvBatchNormFusionPass()])
    kit.check_model(model)
    kit.assert_same_outputs(before, model, kit.random_feeds(before), rtol=1e-4, atol=1e-5)
    return model


@pytest.mark.parametrize("bias", [True, False])
def test_conv_batchnorm(kit, bias):
    conv_in = ["x", "w", "b"] if bias else ["x", "w"]
    nodes = [helper.make_node("Conv", conv_in, ["c"], kernel_shape=[3, 3]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"],
                              epsilon=1e-3)]
    model = _run(kit, nodes, {**_conv_inits(bias), **_bn_inits()})
    assert kit.op_types(model) == ["Conv"]
    assert model.graph.nodes[0].attr("kernel_shape") == [3, 3]


# (id, op, constant, constant first, fused)
CHANNEL_CASES = [
    ("mul_channel", "Mul", RNG.standard_normal((4, 1, 1)).astype(F), False, True),
    ("mul_scalar_first", "Mul", np.array(3.0, F), True, True),
    ("add_channel_4d", "Add", RNG.standard_normal((1, 4, 1, 1)).astype(F), True, True),
    ("add_channel", "Add", RNG.standard_normal((4, 1, 1)).astype(F), False, True),
    ("mul_per_pixel", "Mul", RNG.standard_normal((4, 6, 6)).astype(F), False, False),
    ("add_last_axis", "Add", RNG.standard_normal((6,)).astype(F), False, False),
]


@pytest.mark.parametrize("case", CHANNEL_CASES, ids=lambda c: c[0])
def test_conv_channel_op(kit, case):
    _, op, const, first, fused = case
    ins = ["k", "c"] if first else ["c", "k"]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3]),
             helper.make_node(op, ins, ["y"])]
    model = _run(kit, nodes, {**_conv_inits(True), "k": const})
    assert kit.op_types(model) == (["Conv"] if fused else ["Conv", op])


def test_training_batchnorm_is_kept(kit):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"],
                              ["y"], training_mode=1)]
    model = kit.build_model(nodes, [("x", [1, 3, 8, 8])], [("y", [1, 4, 6, 6])],
                            {**_conv_inits(False), **_bn_inits()})
    p = ConvBatchNormFusionPass()
    run_pipeline(model, [ShapeInferencePass(), p])
    assert kit.op_types(model) == ["Conv", "BatchNormalization"]
    assert any("training mode" in n for n in p.notes)


def test_weights_from_input_are_kept(kit):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Mul", ["c", "k"], ["y"])]
    model = kit.build_model(nodes, [("x", [1, 3, 8, 8]), ("w", [4, 3, 3, 3])],
                            [("y", [1, 4, 6, 6])], {"k": np.array(2.0, F)})
    run_pipeline(model, [ShapeInferencePass(), ConvBatchNormFusionPass()])
    assert kit.op_types(model) == ["Conv", "Mul"]
