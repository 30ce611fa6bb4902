"""RNN, GRU, LSTM, LinearAttention and CausalConvWithState kernels against onnxruntime.

onnxruntime (CPU) is the oracle for the classic recurrent ops; it lacks batch-major layout
and the opset-27 ops, where onnx.reference stands in.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import onyx
import onyx.backend

RNG = np.random.default_rng(0)
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def make_model(op: str, inputs: dict, n_out: int, opset: int, **attrs) -> onnx.ModelProto:
    names = [n if v is not None else "" for n, v in inputs.items()]
    while names and not names[-1]:
        names.pop()
    outs = [f"out{i}" for i in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in inputs.items() if v is not None],
        [helper.make_value_info(o, onnx.TypeProto()) for o in outs])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def feeds_of(inputs: dict) -> dict:
    return {n: v for n, v in inputs.items() if v is not None}


def run_onyx(model, inputs: dict) -> list:
    return list(onyx.backend.prepare(model).run(list(feeds_of(inputs).values())))


def run_ort(model, inputs: dict) -> list:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds_of(inputs))


def recurrent_inputs(op: str, *, seq=5, batch=3, inp=4, hidden=6, dirs=1, dtype=np.float32,
                     lens=None, initial=True, peepholes=False, layout=0) -> dict:
    g = GATES[op]
    x_shape = (batch, seq, inp) if layout else (seq, batch, inp)
    s_shape = (batch, dirs, hidden) if layout else (dirs, batch, hidden)
    d = {
        "X": RNG.standard_normal(x_shape).astype(dtype),
        "W": (RNG.standard_normal((dirs, g * hidden, inp)) * 0.5).astype(dtype),
        "R": (RNG.standard_normal((dirs, g * hidden, hidden)) * 0.5).astype(dtype),
        "B": (RNG.standard_normal((dirs, 2 * g * hidden)) * 0.3).astype(dtype),
        "sequence_lens": None if lens is None else np.array(lens, np.int32),
        "initial_h": RNG.standard_normal(s_shape).astype(dtype) if initial else None,
    }
    if op == "LSTM":
        d["initial_c"] = RNG.standard_normal(s_shape).astype(dtype) if initial else None
        d["P"] = (RNG.standard_normal((dirs, 3 * hidden)) * 0.3).astype(dtype) \
            if peepholes else None
    return d


CASES = [
    # (op, direction, extra attrs, input options)
    ("RNN", "forward", {}, {}),
    ("RNN", "reverse", {}, {"lens": [5, 2, 0]}),
    ("RNN", "bidirectional", {"activations": ["Relu", "LeakyRelu"],
                              "activation_alpha": [0.2]}, {"lens": [3, 5, 1]}),
    ("RNN", "forward", {"clip": 0.5}, {"initial": False}),
    ("GRU", "forward", {}, {}),
    ("GRU", "forward", {"linear_before_reset": 1}, {"lens": [1, 4, 5]}),
    ("GRU", "reverse", {"linear_before_reset": 1}, {"lens": [5, 3, 2]}),
    ("GRU", "bidirectional", {"activations": ["HardSigmoid", "Tanh", "Sigmoid", "Softsign"],
                              "activation_alpha": [0.3], "activation_beta": [0.4]}, {}),
    ("GRU", "forward", {"clip": 0.7}, {}),
    ("LSTM", "forward", {}, {}),
    ("LSTM", "forward", {}, {"peepholes": True, "lens": [2, 5, 4]}),
    ("LSTM", "reverse", {"input_forget": 1}, {"peepholes": True}),
    ("LSTM", "bidirectional", {}, {"lens": [5, 1, 3], "peepholes": True}),
    ("LSTM", "bidirectional", {"activations": ["Sigmoid", "Elu", "Softplus"] * 2}, {}),
    ("LSTM", "forward", {"clip": 0.4}, {"initial": False}),
]


@pytest.mark.parametrize("op,direction,attrs,opts", CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_recurrent_matches_onnxruntime(op, direction, attrs, opts):
    dirs = 2 if direction == "bidirectional" else 1
    inputs = recurrent_inputs(op, dirs=dirs, **opts)
    n_out = 3 if op == "LSTM" else 2
    model = make_model(op, inputs, n_out, 14, hidden_size=6, direction=direction, **attrs)
    got, want = run_onyx(model, inputs), run_ort(model, inputs)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_batch_major_layout_matches_seq_major(op):
    # onnxruntime has no layout=1; the batch-major result must be the transposed seq-major one.
    seq_major = recurrent_inputs(op, dirs=2, lens=[4, 5, 2])
    batch_major = {k: v for k, v in seq_major.items()}
    for name in ("X", "initial_h", "initial_c"):
        if batch_major.get(name) is not None:
            batch_major[name] = np.swapaxes(seq_major[name], 0, 1).copy()
    n_out = 3 if op == "LSTM" else 2
    ref = run_onyx(make_model(op, seq_major, n_out, 14, hidden_size=6,
                              direction="bidirectional"), seq_major)
    got = run_onyx(make_model(op, batch_major, n_out, 14, hidden_size=6,
                              direction="bidirectional", layout=1), batch_major)
    np.testing.assert_allclose(got[0], ref[0].transpose(2, 0, 1, 3), rtol=1e-6)
    for g, r in zip(got[1:], ref[1:]):
        np.testing.assert_allclose(g, np.swapaxes(r, 0, 1), rtol=1e-6)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_float16_keeps_dtype_and_matches_float32(op):
    inputs = recurrent_inputs(op, dtype=np.float16, lens=[5, 3, 4])
    n_out = 3 if op == "LSTM" else 2
    got = run_onyx(make_model(op, inputs, n_out, 22, hidden_size=6), inputs)
    wide = {k: None if v is None else v if v.dtype.kind == "i" else v.astype(np.float32)
            for k, v in inputs.items()}
    want = run_ort(make_model(op, wide, n_out, 14, hidden_size=6), wide)
    for g, w in zip(got, want):
        assert g.dtype == np.float16
        np.testing.assert_allclose(g.astype(np.float32), w, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("op,direction", [("RNN", "forward"), ("GRU", "reverse"),
                                          ("LSTM", "bidirectional")])
def test_float64_matches_reference(op, direction):
    # onnxruntime's CPU recurrent kernels are float-only; onnx.reference covers double.
    dirs = 2 if direction == "bidirectional" else 1
    inputs = recurrent_inputs(op, dirs=dirs, dtype=np.float64)
    n_out = 3 if op == "LSTM" else 2
    model = make_model(op, inputs, n_out, 14, hidden_size=6, direction=direction)
    for g, w in zip(run_onyx(model, inputs), run_reference(model, inputs)):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_opset1_output_sequence_attribute_is_accepted():
    inputs = recurrent_inputs("GRU")
    model = make_model("GRU", inputs, 2, 1, hidden_size=6, output_sequence=1)
    got = run_onyx(model, inputs)
    want = run_ort(make_model("GRU", inputs, 2, 14, hidden_size=6), inputs)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op,inputs,attrs,match", [
    ("LSTM", {"X": np.zeros((2, 1, 3), np.float32), "W": np.zeros((1, 6, 3), np.float32),
              "R": np.zeros((1, 8, 2), np.float32)}, {}, "LSTM"),
    ("RNN", {"X": np.zeros((2, 1, 3), np.float32), "W": np.zeros((1, 2, 3), np.float32),
             "R": np.zeros((1, 2, 2), np.float32)}, {"activations": ["Bogus"]}, "Bogus"),
    ("GRU", {"X": np.zeros((2, 1, 3), np.float32), "W": np.zeros((1, 6, 3), np.float32),
             "R": np.zeros((1, 6, 2), np.float32), "B": None,
             "sequence_lens": np.array([7], np.int32)}, {}, "sequence_lens"),
])
def test_bad_input_raises_onyx_error(op, inputs, attrs, match):
    model = make_model(op, inputs, 2, 14, **attrs)
    with pytest.raises(onyx.OnyxError, match=match):
        run_onyx(model, inputs)


# -------------------------------------------------------------- opset-27 recurrent ops
def run_reference(model, inputs: dict) -> list:
    return ReferenceEvaluator(model).run(None, feeds_of(inputs))


LINEAR_CASES = [
    ("linear", 4, 4, 3, False, None),
    ("gated", 4, 2, 5, True, "per_key"),
    ("gated", 2, 2, 1, False, "per_head"),
    ("delta", 4, 4, 4, True, None),
    ("gated_delta", 6, 2, 3, True, "per_key"),
    ("gated_delta", 4, 1, 2, False, "per_head"),
]


@pytest.mark.parametrize("rule,hq,hkv,t,past,decay_kind", LINEAR_CASES)
def test_linear_attention_matches_reference(rule, hq, hkv, t, past, decay_kind):
    b, dk, dv = 2, 4, 3
    inputs = {
        "query": RNG.standard_normal((b, t, hq * dk)).astype(np.float32),
        "key": (RNG.standard_normal((b, t, hkv * dk)) * 0.5).astype(np.float32),
        "value": RNG.standard_normal((b, t, hkv * dv)).astype(np.float32),
        "past_state": RNG.standard_normal((b, hkv, dk, dv)).astype(np.float32)
        if past else None,
        "decay": None, "beta": None,
    }
    if decay_kind:
        width = hkv * dk if decay_kind == "per_key" else hkv
        inputs["decay"] = -np.abs(RNG.standard_normal((b, t, width))).astype(np.float32)
    if "delta" in rule:
        inputs["beta"] = RNG.random((b, t, hkv)).astype(np.float32)
    model = make_model("LinearAttention", inputs, 2, 27, q_num_heads=hq, kv_num_heads=hkv,
                       update_rule=rule)
    for g, w in zip(run_onyx(model, inputs), run_reference(model, inputs)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_linear_attention_rejects_missing_decay():
    inputs = {n: np.zeros((1, 2, 4), np.float32) for n in ("query", "key", "value")}
    model = make_model("LinearAttention", inputs, 2, 27, q_num_heads=1, kv_num_heads=1,
                       update_rule="gated")
    with pytest.raises(onyx.OnyxError, match="LinearAttention.*decay"):
        run_onyx(model, inputs)


@pytest.mark.parametrize("length,k,bias,past,activation,dtype", [
    (8, 4, False, False, "none", np.float32),
    (1, 4, True, True, "silu", np.float32),
    (2, 5, False, False, "swish", np.float32),
    (6, 1, True, False, "none", np.float32),
    (0, 3, False, True, "none", np.float32),
    (7, 3, True, True, "silu", np.float16),
])
def test_causal_conv_with_state_matches_reference(length, k, bias, past, activation, dtype):
    b, c = 2, 3
    inputs = {
        "input": RNG.standard_normal((b, c, length)).astype(dtype),
        "weight": RNG.standard_normal((c, 1, k)).astype(dtype),
        "bias": RNG.standard_normal(c).astype(dtype) if bias else None,
        "past_state": RNG.standard_normal((b, c, k - 1)).astype(dtype) if past else None,
    }
    model = make_model("CausalConvWithState", inputs, 2, 27, activation=activation)
    got = run_onyx(model, inputs)
    if length == 0:  # the reference's Conv cannot take an empty sequence
        assert got[0].shape == (b, c, 0)
        np.testing.assert_array_equal(got[1], inputs["past_state"])
        return
    tol = 1e-2 if dtype == np.float16 else 1e-5
    for g, w in zip(got, run_reference(model, inputs)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), rtol=tol,
                                   atol=tol)


def test_causal_conv_with_state_rejects_bad_state():
    inputs = {"input": np.zeros((1, 2, 5), np.float32), "weight": np.zeros((2, 1, 3),
                                                                           np.float32),
              "bias": None, "past_state": np.zeros((1, 2, 4), np.float32)}
    model = make_model("CausalConvWithState", inputs, 2, 27)
    with pytest.raises(onyx.OnyxError, match=r"CausalConvWithState.*past_state"):
        run_onyx(model, inputs)
