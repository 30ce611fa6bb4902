"""Gelu, LayerNormalization and Softmax written out as exporters write them become the ONNX
op; outputs stay equal; near misses are left alone."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
import torch
from onnx import helper

from onyx import ir
from onyx.passes.gelu import GeluFusionPass
from onyx.passes.infra import run_pipeline
from onyx.passes.layer_norm import LayerNormFusionPass
from onyx.passes.pipeline import copy_model, optimize
from onyx.passes.shape_inference import ShapeInferencePass
from onyx.passes.softmax import SoftmaxFusionPass

F = np.float32


def _export(module, shape, opset, raise_to=None) -> ir.Model:
    """``module`` through torch.onnx.export; ``raise_to`` lifts the opset import afterwards
    (the ops such an export uses are unchanged up to opset 21)."""
    buf = io.BytesIO()
    torch.onnx.export(module.eval(), (torch.randn(*shape),), buf, opset_version=opset,
                      dynamo=False, input_names=["x"], output_names=["y"])
    proto = onnx.load_from_string(buf.getvalue())
    if raise_to is not None:
        proto.opset_import[0].version = raise_to
    return ir.from_onnx(proto)


def _ops(kit, model) -> list[str]:
    """The op types, without the Constant nodes the rewrite left for DCE."""
    return [op for op in kit.op_types(model) if op != "Constant"]


def _apply(kit, model, pass_):
    before = copy_model(model)
    run_pipeline(model, [ShapeInferencePass(), pass_])
    kit.check_model(model)
    kit.assert_same_outputs(before, model, kit.random_feeds(before), rtol=1e-5, atol=1e-5)
    return model


class ManualLayerNorm(torch.nn.Module):
    def __init__(self, n, affine=True, square="pow"):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(n)) if affine else None
        self.b = torch.nn.Parameter(torch.randn(n)) if affine else None
        self.square = square

    def forward(self, x):
        d = x - x.mean(-1, keepdim=True)
        sq = d.pow(2) if self.square == "pow" else d * d
        y = d / torch.sqrt(sq.mean(-1, keepdim=True) + 1e-5)
        return y * self.w + self.b if self.w is not None else y


class ManualSoftmax(torch.nn.Module):
    def __init__(self, dim, stable=True):
        super().__init__()
        self.dim, self.stable = dim, stable

    def forward(self, x):
        if self.stable:
            x = x - x.amax(self.dim, keepdim=True)
        e = torch.exp(x)
        return e / e.sum(self.dim, keepdim=True)


class HalfFirstGelu(torch.nn.Module):
    def forward(self, x):
        return (x * 0.5) * (1.0 + torch.erf(x * 0.7071067811865476))


class WrongConstantGelu(torch.nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.erf(x / 1.3))


@pytest.mark.parametrize("module", [torch.nn.GELU(), HalfFirstGelu()],
                         ids=["nn.GELU", "half-first"])
def test_gelu_erf_form(kit, module):
    model = _export(torch.nn.Sequential(torch.nn.Linear(6, 8), module), (3, 6), 18,
                    raise_to=20)
    assert "Erf" in kit.op_types(model)
    model = _apply(kit, model, GeluFusionPass())
    assert "Gelu" in kit.op_types(model) and "Erf" not in kit.op_types(model)


class PowCubeTanhGelu(torch.nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * x.pow(3))))


@pytest.mark.parametrize("module", [torch.nn.GELU(approximate="tanh"), PowCubeTanhGelu()],
                         ids=["nn.GELU-tanh", "pow-cube"])
def test_gelu_tanh_form(kit, module):
    model = _export(module, (3, 6), 18, raise_to=20)
    model = _apply(kit, model, GeluFusionPass())
    assert _ops(kit, model) == ["Gelu"]
    assert next(n for n in model.graph if n.op_type == "Gelu").attr("approximate") == "tanh"


def test_gelu_near_miss_and_low_opset_are_kept(kit):
    model = _apply(kit, _export(WrongConstantGelu(), (3, 6), 18, raise_to=20), GeluFusionPass())
    assert "Gelu" not in kit.op_types(model)
    low = _export(torch.nn.GELU(), (3, 6), 18)
    pass_ = GeluFusionPass()
    _apply(kit, low, pass_)
    assert "Gelu" not in kit.op_types(low) and "opset 20" in pass_.notes[0]


@pytest.mark.parametrize("affine, square", [(True, "pow"), (False, "pow"), (True, "mul")])
def test_layer_norm(kit, affine, square):
    model = _export(ManualLayerNorm(6, affine, square), (2, 3, 6), 17)
    model = _apply(kit, model, LayerNormFusionPass())
    assert _ops(kit, model) == ["LayerNormalization"]
    node = next(n for n in model.graph if n.op_type == "LayerNormalization")
    assert node.attr("axis") == 2 and abs(node.attr("epsilon") - 1e-5) < 1e-9


def test_torch_layer_norm_exported_below_opset_17_is_recognised(kit):
    model = _export(torch.nn.LayerNorm(6), (2, 6), 16, raise_to=17)  # same ops at 17
    model = _apply(kit, model, LayerNormFusionPass())
    assert _ops(kit, model) == ["LayerNormalization"]


def test_layer_norm_over_a_leading_axis_is_kept(kit):
    class Leading(torch.nn.Module):
        def forward(self, x):
            d = x - x.mean(0, keepdim=True)
            return d / torch.sqrt(d.pow(2).mean(0, keepdim=True) + 1e-5)

    model = _apply(kit, _export(Leading(), (4, 6), 17), LayerNormFusionPass())
    assert "LayerNormalization" not in kit.op_types(model)


@pytest.mark.parametrize("dim, stable", [(-1, True), (1, True), (1, False)])
def test_softmax(kit, dim, stable):
    model = _apply(kit, _export(ManualSoftmax(dim, stable), (2, 3, 5), 18),
                   SoftmaxFusionPass())
    assert _ops(kit, model) == ["Softmax"]
    node = next(n for n in model.graph if n.op_type == "Softmax")
    assert node.attr("axis") in (dim, dim % 3)


def test_softmax_with_exp_used_elsewhere_is_kept(kit):
    nodes = [helper.make_node("Exp", ["x"], ["e"]),
             helper.make_node("ReduceSum", ["e", "axes"], ["s"], keepdims=1),
             helper.make_node("Div", ["e", "s"], ["y"]),
             helper.make_node("Neg", ["e"], ["z"])]
    model = kit.build_model(nodes, [("x", [2, 5])], [("y", [2, 5]), ("z", [2, 5])],
                            {"axes": np.array([1], np.int64)})
    _apply(kit, model, SoftmaxFusionPass())
    assert "Softmax" not in kit.op_types(model)


def test_level_2_pipeline_recognises_a_torch_transformer_block(kit):
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.ln, self.act = torch.nn.Linear(8, 8), ManualLayerNorm(8), torch.nn.GELU()

        def forward(self, x):
            return ManualSoftmax(-1)(self.act(self.ln(self.fc(x))))

    model = _export(Block(), (4, 8), 18, raise_to=20)
    optimized, _ = optimize(model, level=2)
    ops = kit.op_types(optimized)
    assert {"LayerNormalization", "Gelu", "Softmax"} <= set(ops)
    kit.assert_same_outputs(model, optimized, kit.random_feeds(model), rtol=1e-5, atol=1e-5)


def _attention_model(kit, *, scale_op="Mul", mask=True, axis=-1, opset=23):
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["q", "kt"], ["qk"])]
    scores = "qk"
    if scale_op:
        nodes.append(helper.make_node(scale_op, ["qk", "c"], ["scaled"]))
        scores = "scaled"
    if mask:
        nodes.append(helper.make_node("Add", [scores, "mask"], ["masked"]))
        scores = "masked"
    nodes += [helper.make_node("Softmax", [scores], ["p"], axis=axis),
              helper.make_node("MatMul", ["p", "v"], ["y"])]
    inputs = [("q", [2, 3, 5, 4]), ("k", [2, 3, 6, 4]), ("v", [2, 3, 6, 4])]
    if mask:
        inputs.append(("mask", [5, 6]))
    c = np.array(0.5 if scale_op == "Mul" else 2.0, F)
    return kit.build_model(nodes, inputs, [("y", [2, 3, 5, 4])], {"c": c} if scale_op else {},
                           opset=opset)


@pytest.mark.parametrize("scale_op, mask", [("Mul", True), ("Div", False), (None, True)])
def test_attention(kit, scale_op, mask):
    from onyx.passes.attention import AttentionFusionPass
    model = _apply(kit, _attention_model(kit, scale_op=scale_op, mask=mask),
                   AttentionFusionPass())
    assert _ops(kit, model) == ["Attention"]
    node = next(iter(model.graph))
    assert node.attr("scale") == pytest.approx(0.5 if scale_op else 1.0)
    ort = pytest.importorskip("onnxruntime")  # the rewritten model means the same to ORT
    before = _attention_model(kit, scale_op=scale_op, mask=mask)
    feeds = kit.random_feeds(before)
    run = [ort.InferenceSession(ir.to_onnx(m).SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, feeds)[0]
           for m in (before, model)]
    np.testing.assert_allclose(run[0], run[1], rtol=1e-5, atol=1e-6)


def test_attention_near_misses_are_kept(kit):
    from onyx.passes.attention import AttentionFusionPass
    model = _apply(kit, _attention_model(kit, axis=2), AttentionFusionPass())  # wrong axis
    assert "Attention" not in _ops(kit, model)
    pass_ = AttentionFusionPass()
    low = _apply(kit, _attention_model(kit, opset=21), pass_)
    assert "Attention" not in _ops(kit, low) and "opset 23" in pass_.notes[0]
