"""Attention, RotaryEmbedding, SwiGLU and FlexAttention kernels against onnxruntime.

onnxruntime (CPU) is the oracle for Attention and RotaryEmbedding; onnx.reference stands in
for SwiGLU, ai.onnx.preview::FlexAttention and dtypes onnxruntime lacks (bfloat16).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import onyx
import onyx.backend

RNG = np.random.default_rng(0)
PREVIEW = "ai.onnx.preview"


def make_model(op: str, inputs: dict, outputs: list[str], opset: int, domain: str = "",
               **attrs) -> onnx.ModelProto:
    names = [n if v is not None else "" for n, v in inputs.items()]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node(op, names, outputs, domain=domain, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in inputs.items() if v is not None],
        [helper.make_value_info(o, onnx.TypeProto()) for o in outputs if o])
    opsets = [helper.make_opsetid("", opset)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=opsets)


def feeds_of(inputs: dict) -> dict:
    return {n: v for n, v in inputs.items() if v is not None}


def run_onyx(model, inputs: dict) -> list:
    return list(onyx.backend.prepare(model).run(list(feeds_of(inputs).values())))


def run_ort(model, inputs: dict) -> list:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds_of(inputs))


def run_reference(model, inputs: dict) -> list:
    return ReferenceEvaluator(model).run(None, feeds_of(inputs))


def assert_close(got: list, want: list, tol: float) -> None:
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), rtol=tol,
                                   atol=tol)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------ Attention
def attention_inputs(*, b=2, hq=4, hkv=4, lq=3, lkv=5, d=8, dv=8, rank=4, past=0,
                     mask=None, nonpad=None, dtype=np.float32) -> dict:
    if rank == 4:
        q, k, v = rand(b, hq, lq, d), rand(b, hkv, lkv, d), rand(b, hkv, lkv, dv)
    else:
        q, k, v = rand(b, lq, hq * d), rand(b, lkv, hkv * d), rand(b, lkv, hkv * dv)
    total = past + lkv
    masks = {
        None: lambda: None,
        "float2d": lambda: rand(lq, total),
        "float4d": lambda: rand(b, 1, lq, total),
        "bool2d": lambda: RNG.random((lq, total)) > 0.3,
        "bool4d": lambda: RNG.random((b, hq, lq, total)) > 0.3,
        "bool3d_dead_row": lambda: np.concatenate(
            [np.zeros((hq, 1, total), bool), RNG.random((hq, lq - 1, total)) > 0.3], axis=1),
        "short": lambda: rand(lq, total - 2),
    }
    m = masks[mask]()
    return {
        "Q": q.astype(dtype), "K": k.astype(dtype), "V": v.astype(dtype),
        "attn_mask": None if m is None else m if m.dtype == bool else m.astype(dtype),
        "past_key": rand(b, hkv, past, d).astype(dtype) if past else None,
        "past_value": rand(b, hkv, past, dv).astype(dtype) if past else None,
        "nonpad_kv_seqlen": None if nonpad is None else np.array(nonpad, np.int64),
    }


ATTENTION_CASES = [
    # (opset, input options, attributes, outputs wanted)
    (23, {}, {}, 1),
    (23, {"rank": 3}, {"q_num_heads": 4, "kv_num_heads": 4}, 1),
    (23, {"hq": 8, "hkv": 2}, {}, 1),
    (23, {"hq": 6, "hkv": 1, "dv": 5}, {"is_causal": 1}, 1),
    (23, {"rank": 3, "hq": 6, "hkv": 2, "dv": 4}, {"q_num_heads": 6, "kv_num_heads": 2,
                                                   "scale": 0.2}, 1),
    (23, {"mask": "float2d"}, {"softcap": 2.0}, 4),
    (23, {"mask": "bool4d"}, {"qk_matmul_output_mode": 1, "softcap": 1.5}, 4),
    (23, {"mask": "float4d", "past": 4}, {"qk_matmul_output_mode": 2}, 4),
    (23, {"mask": "bool2d", "past": 2, "hq": 4, "hkv": 2}, {"qk_matmul_output_mode": 3}, 4),
    (23, {"past": 3, "lq": 2, "lkv": 2}, {"is_causal": 1}, 3),
    (23, {"mask": "bool2d", "lq": 5}, {"is_causal": 1}, 1),
    (23, {"lq": 4, "lkv": 4, "dtype": np.float16}, {"is_causal": 1}, 1),
    (23, {"mask": "float2d", "dtype": np.float16}, {"softmax_precision": 1}, 1),
    (24, {"nonpad": [5, 3], "lq": 1}, {"is_causal": 1}, 1),
    (24, {"nonpad": [4, 2], "lq": 2, "hq": 4, "hkv": 2}, {}, 1),
    (25, {"lq": 5, "lkv": 5}, {"left_window_size": 2, "right_window_size": 1}, 1),
    (25, {"lq": 4, "lkv": 4, "rank": 3}, {"is_causal": 1, "left_window_size": 1,
                                          "q_num_heads": 4, "kv_num_heads": 4}, 1),
    (25, {"past": 3}, {"is_causal": 1, "left_window_size": 3}, 3),
]


@pytest.mark.parametrize("opset,opts,attrs,n_out", ATTENTION_CASES,
                         ids=[f"opset{c[0]}-{i}" for i, c in enumerate(ATTENTION_CASES)])
def test_attention_matches_onnxruntime(opset, opts, attrs, n_out):
    inputs = attention_inputs(**opts)
    outs = ["Y", "present_key", "present_value", "qk"][:n_out]
    if n_out == 4 and inputs["past_key"] is None:
        outs = ["Y", "", "", "qk"]
    model = make_model("Attention", inputs, outs, opset, **attrs)
    tol = 2e-3 if inputs["Q"].dtype == np.float16 else 1e-5
    assert_close(run_onyx(model, inputs), run_ort(model, inputs), tol)


@pytest.mark.parametrize("opts,attrs", [
    ({"mask": "bool3d_dead_row"}, {"qk_matmul_output_mode": 3}),
    ({"mask": "short"}, {}),
    ({"dtype": ml_dtypes.bfloat16, "lq": 5, "lkv": 5}, {"is_causal": 1}),
    ({"nonpad": [2, 5], "lq": 3, "mask": "float4d"}, {"is_causal": 1}),
])
def test_attention_matches_reference(opts, attrs):
    # Fully masked rows (zeros by the spec's errata), short masks and bfloat16 are where
    # onnxruntime's CPU kernel departs from or lacks the spec, so onnx.reference is the oracle.
    inputs = attention_inputs(**opts)
    outs = ["Y", "", "", "qk"] if attrs.get("qk_matmul_output_mode") else ["Y"]
    model = make_model("Attention", inputs, outs, 25, **attrs)
    tol = 2e-2 if inputs["Q"].dtype == ml_dtypes.bfloat16 else 1e-5
    got = run_onyx(model, inputs)
    assert_close(got, run_reference(model, inputs), tol)
    assert not np.isnan(got[0].astype(np.float32)).any()


def test_attention_empty_query():
    inputs = attention_inputs(lq=0)
    model = make_model("Attention", inputs, ["Y"], 23)
    (y,) = run_onyx(model, inputs)
    assert y.shape == (2, 4, 0, 8) and y.dtype == np.float32


@pytest.mark.parametrize("opts,attrs,match", [
    ({"hq": 3, "hkv": 2}, {}, "multiple"),
    ({"rank": 3}, {"q_num_heads": 5, "kv_num_heads": 4}, "q_num_heads"),
    ({"mask": "float4d"}, {}, None),
])
def test_attention_bad_input_raises(opts, attrs, match):
    inputs = attention_inputs(**opts)
    if match is None:  # a mask that does not broadcast over the scores
        inputs["attn_mask"] = rand(3, 2, 3, 5)
        match = "Attention.*mask"
    model = make_model("Attention", inputs, ["Y"], 23, **attrs)
    with pytest.raises(onyx.OnyxError, match=match):
        run_onyx(model, inputs)


def test_attention_refuses_a_huge_score_matrix():
    # 2 * 200000 floats of input would need 200000**2 scores.
    inputs = {"Q": np.zeros((1, 1, 200000, 1), np.float32),
              "K": np.zeros((1, 1, 200000, 1), np.float32),
              "V": np.zeros((1, 1, 200000, 1), np.float32)}
    with pytest.raises(onyx.OnyxError, match="Attention scores"):
        run_onyx(make_model("Attention", inputs, ["Y"], 23), inputs)


# ------------------------------------------------------------------ RotaryEmbedding
@pytest.mark.parametrize("rank,ids,interleaved,rot_dim,dtype", [
    (4, True, 0, 0, np.float32),
    (4, True, 1, 0, np.float32),
    (3, True, 0, 4, np.float32),
    (4, False, 1, 4, np.float32),
    (3, False, 0, 0, np.float16),
])
def test_rotary_embedding_matches_onnxruntime(rank, ids, interleaved, rot_dim, dtype):
    b, h, s, d = 2, 3, 4, 8
    half = (rot_dim or d) // 2
    x = rand(b, h, s, d) if rank == 4 else rand(b, s, h * d)
    cache = (20, half) if ids else (b, s, half)
    inputs = {"X": x.astype(dtype), "cos_cache": rand(*cache, dtype=dtype),
              "sin_cache": rand(*cache, dtype=dtype),
              "position_ids": RNG.integers(0, 20, (b, s)) if ids else None}
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rot_dim}
    if rank == 3:
        attrs["num_heads"] = h
    model = make_model("RotaryEmbedding", inputs, ["Y"], 23, **attrs)
    tol = 2e-3 if dtype == np.float16 else 1e-6
    assert_close(run_onyx(model, inputs), run_ort(model, inputs), tol)


def test_rotary_embedding_rejects_out_of_range_position():
    inputs = {"X": rand(1, 1, 2, 4), "cos_cache": rand(3, 2), "sin_cache": rand(3, 2),
              "position_ids": np.array([[0, 3]], np.int64)}
    model = make_model("RotaryEmbedding", inputs, ["Y"], 23)
    with pytest.raises(onyx.OnyxError, match="RotaryEmbedding.*position"):
        run_onyx(model, inputs)


# --------------------------------------------------------------------------- SwiGLU
@pytest.mark.parametrize("shape,alpha,dtype", [
    ((2, 4), 1.0, np.float32), ((3, 0, 5), 1.0, np.float32), ((7,), 1.702, np.float16),
    ((2, 3, 4), 0.5, np.float64), ((4, 6), 1.0, ml_dtypes.bfloat16),
])
def test_swiglu_matches_reference(shape, alpha, dtype):
    inputs = {"A": (rand(*shape) * 4).astype(dtype), "B": rand(*shape, dtype=dtype)}
    model = make_model("SwiGLU", inputs, ["Y"], 28, alpha=alpha)
    tol = {np.float16: 2e-3, ml_dtypes.bfloat16: 2e-2}.get(dtype, 1e-6)
    assert_close(run_onyx(model, inputs), run_reference(model, inputs), tol)


def test_swiglu_rejects_broadcasting():
    inputs = {"A": rand(2, 4), "B": rand(1, 4)}
    with pytest.raises(onyx.OnyxError, match="SwiGLU"):
        run_onyx(make_model("SwiGLU", inputs, ["Y"], 28), inputs)


# -------------------------------------------------------------------- FlexAttention
def mod_graph(op: str, constant: float, elem: int = TensorProto.FLOAT) -> onnx.GraphProto:
    """x -> op(x, constant) as a one-node body."""
    return helper.make_graph(
        [helper.make_node(op, ["x", "c"], ["y"])], "mod",
        [helper.make_tensor_value_info("x", elem, None)],
        [helper.make_tensor_value_info("y", elem, None)],
        [helper.make_tensor("c", elem, [], [constant])])


@pytest.mark.parametrize("hq,hkv,dtype,attrs", [
    (4, 4, np.float32, {}),
    (6, 2, np.float32, {"scale": 0.3}),
    (2, 1, np.float64, {"score_mod": mod_graph("Add", 0.5, TensorProto.DOUBLE)}),
    (4, 2, np.float16, {"prob_mod": mod_graph("Add", -0.05)}),
    (2, 2, np.float32, {"score_mod": mod_graph("Add", -1.5),
                        "prob_mod": mod_graph("Add", 0.1)}),
])
def test_flex_attention_matches_reference(hq, hkv, dtype, attrs):
    inputs = {"Q": rand(2, hq, 3, 8, dtype=dtype), "K": rand(2, hkv, 5, 8, dtype=dtype),
              "V": rand(2, hkv, 5, 6, dtype=dtype)}
    model = make_model("FlexAttention", inputs, ["Y"], 26, domain=PREVIEW, **attrs)
    tol = 2e-3 if dtype == np.float16 else 1e-6
    assert_close(run_onyx(model, inputs), run_reference(model, inputs), tol)


def test_flex_attention_rejects_3d_inputs():
    inputs = {"Q": rand(2, 3, 8), "K": rand(2, 5, 8), "V": rand(2, 5, 8)}
    model = make_model("FlexAttention", inputs, ["Y"], 26, domain=PREVIEW)
    with pytest.raises(onyx.OnyxError, match="FlexAttention.*4-D"):
        run_onyx(model, inputs)
