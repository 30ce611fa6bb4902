"""Cast, CastLike and BitCast against onnxruntime, and the spec's special rules.

The grid casts every pair of common types both ways through ``onyx.backend`` and
onnxruntime (``onnx.reference`` where onnxruntime has no kernel for the pair). Rows with
their own expected values pin down what the spec says and the oracles do not share:
saturation of float8 per opset, FLOAT8E8M0 rounding modes, string parsing and printing,
integer wrap-around into int4/int2.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper
from onnx.reference import ReferenceEvaluator

import onyx.backend
from onyx.backends.numpy.kernels.cast import cast_array
from onyx.ir.dtypes import DType
from onyx.ir.errors import OnyxError

F32, F16, F64 = np.float32, np.float16, np.float64
STD_FLOATS = [F32, F16, F64, ml_dtypes.bfloat16]
INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOAT8 = [ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz, ml_dtypes.float8_e5m2,
          ml_dtypes.float8_e5m2fnuz]
SMALL = [ml_dtypes.int4, ml_dtypes.uint4]
NARROW = {np.dtype(t) for t in [ml_dtypes.bfloat16, *FLOAT8, *SMALL]}  # float8_e5m2 has kind "f"


def code(dtype) -> int:
    return int(DType.from_numpy(dtype))


def make_model(op, inputs, attrs, opset):
    names = [f"x{i}" for i in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, TP.STRING if x.dtype == object
                                                  else code(x.dtype), x.shape)
                    for n, x in zip(names, inputs)]
    graph = helper.make_graph([node], op.lower(), graph_inputs,
                              [helper.make_value_info("y", onnx.TypeProto())])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _session(model):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # unoptimized: onnxruntime would otherwise fold the Cast chain of ort_cast
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def run_oracle(model, inputs):
    feeds = {f"x{i}": x for i, x in enumerate(inputs)}
    try:
        sess = _session(model)
    except Exception:  # no onnxruntime kernel for this pair of types
        return ReferenceEvaluator(model).run(None, feeds)[0]
    return sess.run(None, feeds)[0]


def wide(dtype) -> np.dtype:
    """A type onnxruntime's Python API can exchange that holds every value of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype not in NARROW:
        return dtype
    return np.dtype(np.int8 if DType.from_numpy(dtype).is_integer else F32)


def ort_cast(x, dst, attrs, opset):
    """onnxruntime's Cast of ``x`` to ``dst``, fed and read through wide types: narrow
    values travel as float32/int8 and are cast exactly on either side of the tested node."""
    # float8 inputs travel as float32 and must come back unchanged, Inf included
    exact = {"saturate": 0} if x.dtype in map(np.dtype, FLOAT8) else {}
    nodes = [helper.make_node("Cast", ["xw"], ["x"], to=code(x.dtype), **exact),
             helper.make_node("Cast", ["x"], ["y"], to=code(dst), **attrs),
             helper.make_node("Cast", ["y"], ["yw"], to=code(wide(dst)))]
    graph = helper.make_graph(nodes, "cast", [helper.make_tensor_value_info(
        "xw", code(wide(x.dtype)), x.shape)], [helper.make_tensor_value_info(
            "yw", code(wide(dst)), x.shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {"xw": x.astype(wide(x.dtype))}
    return _session(model).run(None, feeds)[0]


def assert_same(ours, ref):
    ref = np.asarray(ref)
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype == object:
        assert ours.tolist() == ref.tolist()
    elif ref.dtype.kind in "fV" and ref.dtype != np.bool_:
        np.testing.assert_array_equal(ours.astype(F64), ref.astype(F64))
    else:
        np.testing.assert_array_equal(ours, ref)


def values_for(src, dst) -> np.ndarray:
    """Inputs whose cast is defined by the spec (no float -> int out of range)."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == np.bool_:
        return np.array([True, False, True])
    if src.kind in "iu":
        info = np.iinfo(src)
        vals = [info.min, info.max, 0, 1, 7, 100, -1, -9, 300, 40000, 1 << 40]
        return np.array([v for v in vals if info.min <= v <= info.max], src)
    if dst in map(np.dtype, SMALL):  # onnxruntime rounds into int4, onnx truncates
        signed = dst == np.dtype(ml_dtypes.int4)
        return np.array([0.0, 1, 2, 7, 5, 3] + ([-1, -3, -8] if signed else []), src)
    if dst.kind in "iu":
        signed = dst.kind == "i"
        vals = [0.0, 1.5, 2.9, 7.0, 5.5, 3.2] + ([-1.0, -3.7, -8.0] if signed else [])
        return np.array(vals, F64).astype(src)
    vals = [0.0, -0.0, 0.3, -1.5, 2.5, 100.2, -300.7, 1e-3, 448.0, 500.0, 60000.0, 1e6,
            np.nan, np.inf, -np.inf]
    return np.array(vals, F64).astype(src)


def _grid():
    numeric = STD_FLOATS + INTS + [np.bool_]
    for src in numeric:
        for dst in numeric + FLOAT8 + SMALL:
            if src != dst:
                name = f"{np.dtype(src).name}-to-{np.dtype(dst).name}"
                yield pytest.param(values_for(src, dst), dst, id=name)
    for src in FLOAT8 + SMALL:
        for dst in (F32, F16, F64, np.int32):
            x = values_for(F32, dst).astype(src)
            yield pytest.param(x, dst, id=f"{np.dtype(src).name}-to-{np.dtype(dst).name}")


@pytest.mark.parametrize("x,dst", list(_grid()))
def test_cast_grid(x, dst):
    model = make_model("Cast", [x], {"to": code(dst)}, 25)
    (ours,) = onyx.backend.prepare(model).run([x])
    assert ours.dtype == np.dtype(dst) and ours.shape == x.shape
    assert_same(ours.astype(wide(dst)), ort_cast(x, dst, {}, 25))
    like = np.zeros((1,), dst)
    (same,) = onyx.backend.prepare(make_model("CastLike", [x, like], {}, 25)).run([x, like])
    assert_same(same, ours)


@pytest.mark.parametrize("dst", [F16, F64, np.int32, np.uint8, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_castlike_against_onnxruntime(dst):
    x = values_for(F32, np.int8)
    like = np.zeros((2, 2), dst)
    model = make_model("CastLike", [x, like], {}, 19)
    assert_same(onyx.backend.prepare(model).run([x, like])[0], run_oracle(model, [x, like]))


SPECIAL = np.array([0.3, 448, 500, 1e6, -1e6, np.inf, -np.inf, np.nan, -0.0], F32)


@pytest.mark.parametrize("dst", FLOAT8, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("src", [F32, F16], ids=lambda d: np.dtype(d).name)
def test_float8_no_saturate(src, dst):
    x = SPECIAL.astype(src)
    model = make_model("Cast", [x], {"to": code(dst), "saturate": 0}, 21)
    (ours,) = onyx.backend.prepare(model).run([x])
    assert ours.dtype == np.dtype(dst)
    assert_same(ours.astype(F32), ort_cast(x, dst, {"saturate": 0}, 21))


def _expect(x, to, opset=25, **attrs):
    model = make_model("Cast", [x], {"to": int(to), **attrs}, opset)
    return onyx.backend.prepare(model).run([x])[0]


def test_fnuz_infinity_depends_on_opset():
    x = np.array([np.inf, -np.inf, 1e6], F32)
    old = _expect(x, TP.FLOAT8E4M3FNUZ, opset=21)
    new = _expect(x, TP.FLOAT8E4M3FNUZ, opset=25)
    np.testing.assert_array_equal(old.astype(F32), [np.nan, np.nan, 240])
    np.testing.assert_array_equal(new.astype(F32), [240, -240, 240])
    e5 = _expect(x, TP.FLOAT8E5M2, opset=21).astype(F32)
    np.testing.assert_array_equal(e5, [57344, -57344, 57344])


def test_float64_rounds_once():
    # 1 + 2^-4 + 2^-30 is just above the tie between 1 and 1.125 (3 mantissa bits); going
    # through float32 first would land exactly on the tie and round to even (1.0).
    x = np.array([1 + 2 ** -4 + 2 ** -30, -(1 + 2 ** -4 + 2 ** -30), 1 + 2 ** -4])
    got = _expect(x, TP.FLOAT8E4M3FN).astype(F64)
    np.testing.assert_array_equal(got, [1.125, -1.125, 1.0])
    got = _expect(np.array([1 + 2 ** -8 + 2 ** -40]), TP.BFLOAT16).astype(F64)
    np.testing.assert_array_equal(got, [1 + 2 ** -7])


E8M0_IN = np.array([0.0, 0.124, 0.25, 0.5, 0.75, 1.1, 1.5, 3.0, 2.0 ** 127 * 1.5, np.inf,
                    np.nan, 2.0 ** -140], F32)
E8M0_OUT = {  # (saturate, round_mode) -> expected values
    (1, "up"): [2.0 ** -127, 0.125, 0.25, 0.5, 1, 2, 2, 4, 2.0 ** 127, 2.0 ** 127, np.nan,
                2.0 ** -127],
    (1, "down"): [2.0 ** -127, 0.0625, 0.25, 0.5, 0.5, 1, 1, 2, 2.0 ** 127, 2.0 ** 127, np.nan,
                  2.0 ** -127],
    (1, "nearest"): [2.0 ** -127, 0.125, 0.25, 0.5, 1, 1, 2, 4, 2.0 ** 127, 2.0 ** 127,
                     np.nan, 2.0 ** -127],
    (0, "nearest"): [np.nan, 0.125, 0.25, 0.5, 1, 1, 2, 4, np.nan, np.nan, np.nan, np.nan],
}


@pytest.mark.parametrize("saturate,mode", list(E8M0_OUT), ids=str)
def test_e8m0_rounding(saturate, mode):
    got = _expect(E8M0_IN, TP.FLOAT8E8M0, saturate=saturate, round_mode=mode)
    assert got.dtype == ml_dtypes.float8_e8m0fnu
    np.testing.assert_array_equal(got.astype(F64), np.array(E8M0_OUT[saturate, mode]))


def test_e8m0_matches_reference_on_positive_finite():
    x = np.array([1e-30, 0.3, 0.7, 1, 5, 1e20, 3e38], F32)
    for mode in ("up", "down", "nearest"):
        model = make_model("Cast", [x], {"to": TP.FLOAT8E8M0, "round_mode": mode}, 25)
        assert_same(onyx.backend.prepare(model).run([x])[0],
                    ReferenceEvaluator(model).run(None, {"x0": x})[0])


def test_small_ints_wrap_and_truncate():
    got = _expect(np.array([-9, -8.5, 7.9, 9, 16, np.nan], F32), TP.INT4)
    np.testing.assert_array_equal(got.astype(np.int8), [7, -8, 7, -7, 0, 0])
    got = _expect(np.array([200, -56, 17, -1], np.int32), TP.UINT4)
    np.testing.assert_array_equal(got.astype(np.int8), [8, 8, 1, 15])
    got = _expect(np.array([3, 2, -3, 5], np.int64), TP.INT2)
    np.testing.assert_array_equal(got.astype(np.int8), [-1, -2, 1, 1])
    got = _expect(np.array([1.0, 9.7, 6.2], F16), TP.FLOAT4E2M1)
    np.testing.assert_array_equal(got.astype(F32), [1, 6, 6])


STRINGS = np.array(["1.5", " -3 ", "INF", "-inf", "+INF", "NaN", "1e3", "0x10", "7"], object)


def test_strings_to_numbers():
    got = _expect(STRINGS, TP.FLOAT)
    np.testing.assert_array_equal(got, np.array([1.5, -3, np.inf, -np.inf, np.inf, np.nan,
                                                 1000, 16, 7], F32))
    ints = np.array(["1", "-3", "200", "2.7", "1e3", "18446744073709551615"], object)
    np.testing.assert_array_equal(_expect(ints, TP.UINT8), [1, 253, 200, 2, 232, 255])
    np.testing.assert_array_equal(_expect(ints, TP.INT64), [1, -3, 200, 2, 1000, -1])
    np.testing.assert_array_equal(_expect(np.array(["1", "0", "True", "false", "0.5"], object),
                                          TP.BOOL), [True, False, True, False, True])
    got = _expect(np.array(["500", "-1e9"], object), TP.FLOAT8E4M3FN)
    np.testing.assert_array_equal(got.astype(F32), [448, -448])


def test_numbers_to_strings():
    x = np.array([314.15926, 0.1, 1e20, -0.0, np.nan, np.inf, -np.inf, 3, 123456789], F32)
    assert _expect(x, TP.STRING).tolist() == ["314.15927", "0.1", "1e+20", "-0", "NaN", "INF",
                                              "-INF", "3", "1.2345679e+08"]
    doubles = np.array([314.15926, 0.1, 1e20])
    assert _expect(doubles, TP.STRING).tolist() == ["314.15926", "0.1", "1e+20"]
    assert _expect(np.array([True, False]), TP.STRING).tolist() == ["1", "0"]
    assert _expect(np.array([-5, 7], np.int8), TP.STRING).tolist() == ["-5", "7"]
    assert _expect(np.array([[-3, 7]], ml_dtypes.int4), TP.STRING).tolist() == [["-3", "7"]]
    s = np.array(["a", "b"], object)
    assert _expect(s, TP.STRING).tolist() == ["a", "b"]


def test_string_round_trip_against_onnxruntime():
    x = np.array(["1.5", "-2", "1e-3", "NaN", "-INF", "42"], object)
    for to in (TP.FLOAT, TP.DOUBLE, TP.INT32, TP.INT64):
        xs = x if to in (TP.FLOAT, TP.DOUBLE) else np.array(["1", "-2", "42", "0"], object)
        model = make_model("Cast", [xs], {"to": to}, 21)
        assert_same(onyx.backend.prepare(model).run([xs])[0], run_oracle(model, [xs]))


def test_cast_opset1_named_type_and_castlike_string():
    x = np.array([1.7, -2.2], F32)
    model = make_model("Cast", [x], {"to": "INT32"}, 1)
    np.testing.assert_array_equal(onyx.backend.prepare(model).run([x])[0], [1, -2])
    like = np.array(["z"], object)
    model = make_model("CastLike", [x, like], {}, 15)
    assert onyx.backend.prepare(model).run([x, like])[0].tolist() == ["1.7", "-2.2"]


BITCAST = [
    (np.array([1.0, -2.5, np.inf], F32), np.int32),
    (np.array([[1, -1]], np.int64), F64),
    (np.array(3.5, F32), np.uint32),
    (np.array([True, False]), np.uint8),
    (np.array([0, 1, 7], np.uint8), np.bool_),
    (np.array([-3, 7, -8], ml_dtypes.int4), ml_dtypes.uint4),
    (np.array([13, 3, 15], ml_dtypes.uint4), ml_dtypes.int4),
    (np.array([1.5, -6], ml_dtypes.float4_e2m1fn), ml_dtypes.uint4),
    (np.array([1, -1], ml_dtypes.bfloat16), F16),
    (np.array([0.5, -1], ml_dtypes.float8_e4m3fn), np.int8),
    (np.zeros((0, 2), np.uint16), np.int16),
]


@pytest.mark.parametrize("x,dst", BITCAST, ids=lambda v: getattr(v, "__name__", None))
def test_bitcast(x, dst):
    model = make_model("BitCast", [x], {"to": code(dst)}, 26)
    (ours,) = onyx.backend.prepare(model).run([x])
    assert ours.dtype == np.dtype(dst) and ours.shape == x.shape
    if np.dtype(dst) == np.bool_:
        np.testing.assert_array_equal(ours, x != 0)
        return
    bits = DType.from_numpy(dst).itemsize_bits
    mask = (1 << bits) - 1 if bits < 8 else None
    raw_in = x.view(f"u{x.dtype.itemsize}")
    raw_out = ours.view(f"u{ours.dtype.itemsize}")
    if mask is not None:
        raw_in, raw_out = raw_in & mask, raw_out & mask
    np.testing.assert_array_equal(raw_in, raw_out)


def test_cast_array_keeps_scalars_arrays():
    out = cast_array(np.array(2.5, F32), DType.INT8)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.int8


BAD = [
    ("Cast", [np.array(["1.5", "hello"], object)], {"to": TP.FLOAT}, 21),
    ("Cast", [np.array([1.0], F32)], {"to": 999}, 21),
    ("Cast", [np.array([1.0], F32)], {"to": TP.FLOAT8E8M0, "round_mode": "odd"}, 25),
    ("BitCast", [np.array([1.0], F32)], {"to": TP.INT64}, 26),
    ("BitCast", [np.array([1.0], F32)], {"to": TP.STRING}, 26),
]


@pytest.mark.parametrize("op,inputs,attrs,opset", BAD, ids=str)
def test_bad_input_raises(op, inputs, attrs, opset):
    model = make_model(op, inputs, attrs, opset)
    with pytest.raises(OnyxError, match=op):
        onyx.backend.prepare(model).run(inputs)
