"""Elementwise math, comparison/logical/bitwise and activation kernels against onnxruntime.

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime (``onnx.reference`` where a row says "ref", or the
row's own expected values where neither oracle has the op or opset) and the outputs must
match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming the op.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import onyx.backend
from onyx.backends.numpy.kernels.erf import erf
from onyx.ir.errors import OnyxError

rng = np.random.default_rng(0)
F32, F16, F64 = np.float32, np.float16, np.float64


def rand(*shape, dtype=F32, low=None, high=None):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        lo = (-5 if dtype.kind == "i" else 0) if low is None else low
        return np.asarray(rng.integers(lo, 10 if high is None else high, size=shape), dtype)
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) > 0.5)
    x = rng.standard_normal(shape) * 2
    if low is not None:
        x = rng.uniform(low, high, size=shape)
    return np.asarray(x, dtype)


def tensor_type(x):
    return onnx.TensorProto.STRING if x.dtype == object else \
        helper.np_dtype_to_tensor_dtype(x.dtype)


def make_model(op, inputs, attrs, opset):
    names = ["" if x is None else f"x{i}" for i, x in enumerate(inputs)]
    node = helper.make_node(op, names, ["y"], **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, tensor_type(x), x.shape)
                    for n, x in zip(names, inputs) if n]
    graph = helper.make_graph([node], op.lower(), graph_inputs,
                              [helper.make_value_info("y", onnx.TypeProto())])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_oracle(model, inputs, oracle):
    feeds = {f"x{i}": x for i, x in enumerate(inputs) if x is not None}
    if oracle == "ref":
        return ReferenceEvaluator(model).run(None, feeds)[0]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def assert_same(ours, ref):
    ref = np.asarray(ref)
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype.kind == "f" or ref.dtype == ml_dtypes.bfloat16:
        # float64 rows differ by the float32 rounding of attribute constants at most
        tol = 1e-2 if ref.dtype.itemsize == 2 else 1e-5 if ref.dtype == F32 else 1e-7
        np.testing.assert_allclose(ours.astype(F64), ref.astype(F64), rtol=tol, atol=tol,
                                   equal_nan=True)
    else:
        np.testing.assert_array_equal(ours, ref)


def case(name, op, inputs, opset=18, oracle="ort", expect=None, **attrs):
    return pytest.param(op, inputs, attrs, opset, oracle, expect, id=name)


UNARY_OPSETS = {"Abs": 13, "Neg": 13, "Sign": 13, "Ceil": 13, "Floor": 13, "Round": 22,
                "Reciprocal": 13, "Sqrt": 13, "Exp": 13, "Log": 13, "Erf": 13, "Tanh": 13,
                "Sin": 22, "Cos": 22, "Tan": 22, "Asin": 22, "Acos": 22, "Atan": 22,
                "Sinh": 22, "Cosh": 22, "Asinh": 22, "Acosh": 22, "Atanh": 22}
DOMAIN = {"Sqrt": (0.1, 9), "Log": (0.1, 9), "Asin": (-0.99, 0.99), "Acos": (-0.99, 0.99),
          "Acosh": (1.01, 9), "Atanh": (-0.99, 0.99), "Reciprocal": (0.5, 4)}


def _unary_cases():
    for op, opset in UNARY_OPSETS.items():
        lo, hi = DOMAIN.get(op, (-3, 3))
        yield case(f"{op}-f32", op, [rand(3, 4, low=lo, high=hi)], opset)
        yield case(f"{op}-f64-scalar", op, [rand(dtype=F64, low=lo, high=hi)], opset,
                   oracle="ref")  # onnxruntime lacks several float64 kernels
        yield case(f"{op}-empty", op, [np.zeros((0, 3), F32)], opset)
        if op not in ("Erf", "Round", "Sign", "Acosh", "Asinh", "Atanh", "Cosh", "Sinh"):
            yield case(f"{op}-f16", op, [rand(2, 5, dtype=F16, low=lo, high=hi)], opset)
    for op in ("Abs", "Neg", "Sign"):
        for dt in (np.int8, np.int32, np.int64):
            yield case(f"{op}-{np.dtype(dt).name}", op, [rand(4, 3, dtype=dt)], 13)
    yield case("Round-halves", "Round", [np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], F32)], 22)
    yield case("Sign-nan-zero", "Sign", [np.array([-0.0, 0.0, -3, 2], F32)], 13)
    yield case("Abs-opset1", "Abs", [rand(3)], 1, consumed_inputs=[0], oracle="ref")


def _binary_cases():
    shapes = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((), (2, 3)),
              ((0, 4), (1, 4))]
    for op in ("Add", "Sub", "Mul", "Div"):
        for sa, sb in shapes:
            yield case(f"{op}-{sa}-{sb}", op, [rand(*sa), rand(*sb, low=0.5, high=2)], 14)
        for dt in (np.int8, np.uint8, np.int32, np.int64, np.uint64, F16, F64):
            yield case(f"{op}-{np.dtype(dt).name}", op,
                       [rand(3, 4, dtype=dt), rand(4, dtype=dt, low=1, high=9)], 14)
    big = np.array([100, -100, 127], np.int8)
    yield case("Add-int8-wraps", "Add", [big, np.array([100, -100, 1], np.int8)], 14)
    yield case("Mul-int32-wraps", "Mul", [np.array([1 << 20], np.int32),
                                          np.array([1 << 15], np.int32)], 14)
    yield case("Div-int-trunc", "Div", [np.array([-7, 7, -7, 7, 0], np.int32),
                                        np.array([2, -2, -2, 2, 3], np.int32)], 14)
    yield case("Div-int64-trunc", "Div", [rand(5, 6, dtype=np.int64, low=-50, high=50),
                                          rand(6, dtype=np.int64, low=1, high=7) * -1], 14)
    yield case("Div-by-zero-f32", "Div", [np.array([1, -1, 0], F32), np.zeros(3, F32)], 14)
    yield case("Add-bf16", "Add", [rand(3, 4).astype(ml_dtypes.bfloat16),
                                   rand(4).astype(ml_dtypes.bfloat16)], 14, oracle="ref")


def _pow_mod_cases():
    yield case("Pow-f32", "Pow", [rand(3, 4, low=0.1, high=3), rand(3, 4)], 15)
    yield case("Pow-bcast", "Pow", [rand(2, 3, 4, low=0.1, high=3), rand(4)], 15)
    yield case("Pow-f32-i64", "Pow", [rand(5), np.array([0, 1, 2, 3, -2], np.int64)], 15)
    yield case("Pow-i32-f32", "Pow", [np.array([1, 2, 3, 4], np.int32),
                                      np.array([2, 0.5, 3, 1.5], F32)], 15)
    yield case("Pow-i64-i64", "Pow", [np.array([2, -3, 5, 7], np.int64),
                                      np.array([10, 3, 0, 20], np.int64)], 15,
               oracle="ref")  # onnxruntime computes in double: 7**20 comes out rounded
    yield case("Pow-i32-neg-exponent", "Pow", [np.array([1, -1, -1, 2, 5], np.int32),
                                               np.array([-3, -3, -2, -1, -2], np.int32)], 15)
    yield case("Pow-f16", "Pow", [rand(6, dtype=F16, low=0.5, high=2), rand(6, dtype=F16)], 15)
    yield case("Pow-f64-neg-base", "Pow", [np.array([-2.0, -8, 4]), np.array([3.0, 1 / 3, .5])],
               15)
    for dt in (np.int8, np.int32, np.int64, np.uint16):
        a = rand(4, 5, dtype=dt, low=-20 if np.dtype(dt).kind == "i" else 0, high=20)
        b = rand(5, dtype=dt, low=1, high=7)
        if np.dtype(dt).kind == "i":
            b[::2] *= -1
        yield case(f"Mod-{np.dtype(dt).name}", "Mod", [a, b], 13)
        yield case(f"Mod-fmod-{np.dtype(dt).name}", "Mod", [a, b], 13, fmod=1)
    for dt in (F16, F32, F64):
        x = np.array([-4.3, 7.2, 5.0, 4.3, -7.2, 8.0], dt)
        y = np.array([2.1, -3.4, 8.0, -2.1, 3.4, 5.0], dt)
        yield case(f"Mod-fmod-{np.dtype(dt).name}", "Mod", [x, y], 13, fmod=1)
        yield case(f"Mod-floor-{np.dtype(dt).name}", "Mod", [x, y], 28, oracle="ref")
    yield case("Mod-float-edges", "Mod", [np.array([-0.0, 0.0, np.inf, 5, -5, 3], F32),
                                          np.array([2, -2, 3, np.inf, np.inf, 0], F32)], 28,
               expect=np.array([0.0, -0.0, np.nan, 5, np.inf, np.nan], F32))


def _variadic_cases():
    for op in ("Max", "Min", "Sum", "Mean"):
        yield case(f"{op}-one", op, [rand(3, 4)], 13)
        yield case(f"{op}-three-bcast", op, [rand(3, 1), rand(1, 4), rand(4)], 13)
        yield case(f"{op}-f16", op, [rand(5, dtype=F16), rand(5, dtype=F16)], 13)
        yield case(f"{op}-f64-empty", op, [np.zeros((0, 2)), np.zeros((1, 2))], 13,
                   oracle="ref")
        if op in ("Max", "Min"):
            yield case(f"{op}-int32", op, [rand(2, 3, dtype=np.int32), rand(3, dtype=np.int32)],
                       13)
    for op in ("Max", "Min"):
        yield case(f"{op}-uint8", op, [rand(4, dtype=np.uint8), rand(4, dtype=np.uint8)], 13)
        yield case(f"{op}-nan", op, [np.array([1, np.nan, 3], F32),
                                     np.array([2, 0, np.nan], F32)], 13, oracle="ref")


def _logical_cases():
    for op in ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"):
        a = rand(3, 4, dtype=np.int32)
        yield case(f"{op}-int32-bcast", op, [a, rand(4, dtype=np.int32)], 19 if op == "Equal"
                   else 16)
        yield case(f"{op}-f32", op, [rand(2, 3), rand(2, 1)], 16)
        yield case(f"{op}-f16", op, [rand(5, dtype=F16), rand(5, dtype=F16)], 16)
        yield case(f"{op}-uint64-empty", op, [np.zeros((0,), np.uint64),
                                              np.zeros((1,), np.uint64)], 16)
    yield case("Equal-bool", "Equal", [rand(6, dtype=bool), rand(6, dtype=bool)], 13)
    yield case("Equal-string", "Equal", [np.array(["a", "bc", ""], object),
                                         np.array(["a"], object)], 19)
    for op in ("And", "Or", "Xor"):
        yield case(f"{op}-bcast", op, [rand(2, 3, 4, dtype=bool), rand(3, 4, dtype=bool)], 7)
    yield case("Not", "Not", [rand(3, 4, dtype=bool)], 1)
    for op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor"):
        for dt in (np.int8, np.uint16, np.int32, np.uint64):
            yield case(f"{op}-{np.dtype(dt).name}", op,
                       [rand(3, 4, dtype=dt, low=0, high=200), rand(4, dtype=dt, low=0, high=99)],
                       18)
    for dt in (np.int8, np.uint8, np.int64, np.uint32):
        yield case(f"BitwiseNot-{np.dtype(dt).name}", "BitwiseNot", [rand(3, 2, dtype=dt)], 18)
    for direction in ("LEFT", "RIGHT"):
        for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
            yield case(f"BitShift-{direction}-{np.dtype(dt).name}", "BitShift",
                       [rand(4, 3, dtype=dt, high=200), rand(3, dtype=dt, high=7)], 11,
                       direction=direction)
    yield case("BitShift-signed-wide", "BitShift",
               [np.array([-8, 4, -1, 1, 64, -3], np.int8),
                np.array([8, 9, 127, -1, 1, 1], np.int8)],
               28, direction="RIGHT", expect=np.array([-1, 0, -1, 0, 32, -2], np.int8))
    yield case("BitShift-signed-left", "BitShift",
               [np.array([64, 1, -64, 5, 3], np.int8), np.array([1, 7, 1, -2, 8], np.int8)],
               28, direction="LEFT", expect=np.array([-128, -128, -128, 0, 0], np.int8))
    yield case("BitShift-uint32-ge-width", "BitShift",
               [np.array([1, 2, 3], np.uint32), np.array([31, 32, 40], np.uint32)], 28,
               direction="LEFT", expect=np.array([1 << 31, 0, 0], np.uint32))
    yield case("Where-bcast", "Where", [rand(3, 1, dtype=bool), rand(3, 4), rand(4)], 16)
    yield case("Where-int64", "Where", [rand(5, dtype=bool), rand(5, dtype=np.int64),
                                        rand(5, dtype=np.int64)], 16)
    yield case("Where-string", "Where", [np.array([True, False]), np.array(["a", "b"], object),
                                         np.array(["c", "d"], object)], 16)
    yield case("Where-empty", "Where", [np.zeros((0, 3), bool), rand(3), rand(1)], 16)
    special = np.array([-np.inf, np.inf, np.nan, 0, -1.5, 3e38], F32)
    for neg, pos in ((1, 1), (0, 1), (1, 0), (0, 0)):
        yield case(f"IsInf-{neg}{pos}", "IsInf", [special], 20, detect_negative=neg,
                   detect_positive=pos)
    yield case("IsInf-f16", "IsInf", [special.astype(F16)], 20)
    yield case("IsNaN-f64", "IsNaN", [special.astype(F64)], 20)
    yield case("IsNaN-f16", "IsNaN", [special.astype(F16)], 20)


ACT = [  # op, opset, attrs
    ("Relu", 14, {}), ("LeakyRelu", 16, {}), ("LeakyRelu", 16, {"alpha": 0.3}),
    ("Elu", 22, {}), ("Elu", 22, {"alpha": 0.5}), ("Selu", 22, {}),
    ("Selu", 22, {"alpha": 1.5, "gamma": 2.0}), ("Celu", 12, {}), ("Celu", 12, {"alpha": 2.0}),
    ("Gelu", 20, {}), ("Gelu", 20, {"approximate": "tanh"}), ("HardSigmoid", 22, {}),
    ("HardSigmoid", 22, {"alpha": 0.3, "beta": 0.4}), ("HardSwish", 22, {}), ("Mish", 22, {}),
    ("Sigmoid", 13, {}), ("Softplus", 22, {}), ("Softsign", 22, {}), ("Swish", 24, {}),
    ("Swish", 24, {"alpha": 0.5}), ("ThresholdedRelu", 22, {}),
    ("ThresholdedRelu", 22, {"alpha": 0.5}), ("Shrink", 9, {}),
    ("Shrink", 9, {"lambd": 1.0, "bias": 0.5}),
]
NO_ORT = {"Swish", "Celu"}  # Swish-24 and float64/float16 Celu: no CPU kernel in onnxruntime


def _activation_cases():
    edges = np.array([-1e4, -30, -1, -0.0, 0, 0.5, 1, 30, 1e4, np.nan], F32)
    for op, opset, attrs in ACT:
        tag = "-".join(f"{k}{v}" for k, v in attrs.items())
        name = f"{op}-{tag}" if tag else op
        oracle = "ref" if op in NO_ORT else "ort"
        yield case(f"{name}-f32", op, [rand(3, 4, 5)], opset, oracle=oracle, **attrs)
        yield case(f"{name}-edges", op, [edges], opset, oracle=oracle, **attrs)
        yield case(f"{name}-f64", op, [rand(7, dtype=F64)], opset, oracle="ref", **attrs)
        yield case(f"{name}-f16", op, [rand(2, 6, dtype=F16)], opset, oracle="ref", **attrs)
        yield case(f"{name}-empty", op, [np.zeros((2, 0), F32)], opset, oracle=oracle, **attrs)
    yield case("Relu-int32", "Relu", [rand(3, 4, dtype=np.int32)], 14)
    yield case("Relu-int8", "Relu", [rand(3, 4, dtype=np.int8)], 14)
    yield case("Relu-bf16", "Relu", [rand(5).astype(ml_dtypes.bfloat16)], 14, oracle="ref")
    yield case("Shrink-int32", "Shrink", [np.arange(-4, 5, dtype=np.int32)], 9, oracle="ref",
               lambd=1.5, bias=1.0)
    yield case("PRelu-bcast", "PRelu", [rand(2, 3, 4), rand(4)], 16)
    yield case("PRelu-channel", "PRelu", [rand(2, 3, 4, 5), rand(3, 1, 1)], 16)
    yield case("PRelu-int32", "PRelu", [rand(6, dtype=np.int32), rand(6, dtype=np.int32)], 16)
    yield case("PRelu-legacy-channel", "PRelu", [np.array([[[-1.0, 2]], [[-3, -4]]], F32)
                                                 .reshape(1, 2, 2), np.array([0.5, 2], F32)],
               6, expect=np.array([[[-0.5, 2], [-6, -8]]], F32))
    yield case("Sigmoid-opset6", "Sigmoid", [rand(4)], 6)
    x = rand(3, 5)
    yield case("Clip-6-attrs", "Clip", [x], 6, min=-0.5, max=0.5)
    yield case("Clip-6-default", "Clip", [x], 6)
    yield case("Clip-1-max-only", "Clip", [np.array([-1e300, 0.2, 3.0])], 1, max=0.5,
               expect=np.array([-1e300, 0.2, 0.5]))
    yield case("Clip-13-min-only", "Clip", [x, np.array(0.2, F32)], 13)
    yield case("Clip-13-max-only", "Clip", [x, None, np.array(0.1, F32)], 13)
    yield case("Clip-13-none", "Clip", [x], 13)
    yield case("Clip-13-min-gt-max", "Clip", [x, np.array(1, F32), np.array(-1, F32)], 13)
    yield case("Clip-13-int8", "Clip", [rand(4, 4, dtype=np.int8), np.array(-2, np.int8),
                                        np.array(3, np.int8)], 13)
    yield case("Clip-13-f16", "Clip", [rand(4, dtype=F16), np.array(-1, F16),
                                       np.array(1, F16)], 13)
    yield case("Clip-13-nan", "Clip", [np.array([np.nan, 3, -3], F32), np.array(-1, F32),
                                       np.array(1, F32)], 13, oracle="ref")


def _legacy_cases():
    a = np.arange(24, dtype=F32).reshape(2, 3, 4)
    b = np.array([1, 2, 3], F32)
    yield case("Add-6-axis1", "Add", [a, b], 6, broadcast=1, axis=1,
               expect=a + b.reshape(3, 1))
    yield case("Mul-6-suffix", "Mul", [a, np.array([1, 2, 3, 4], F32)], 6, broadcast=1,
               expect=a * np.array([1, 2, 3, 4], F32))
    yield case("Sub-6-one-element", "Sub", [a, np.array([[2]], F32)], 6, broadcast=1,
               expect=a - 2)
    yield case("Div-1-same-shape", "Div", [a, a + 1], 1, expect=a / (a + 1))
    yield case("Pow-1-axis0", "Pow", [a[:, :1, :1], np.array([2, 3], F32)], 1, broadcast=1,
               axis=0, expect=np.array([[[0]], [[12.0 ** 3]]], F32))
    yield case("Equal-1-axis", "Equal", [a, np.array([0, 12], F32)], 1, broadcast=1, axis=0,
               expect=(a == np.array([0, 12], F32).reshape(2, 1, 1)))
    yield case("And-1-suffix", "And", [np.ones((2, 3), bool), np.array([True, False, True])], 1,
               broadcast=1, expect=np.array([[True, False, True]] * 2))


ALL_CASES = [*_unary_cases(), *_binary_cases(), *_pow_mod_cases(), *_variadic_cases(),
             *_logical_cases(), *_activation_cases(), *_legacy_cases()]


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle,expect", ALL_CASES)
def test_against_oracle(op, inputs, attrs, opset, oracle, expect):
    model = make_model(op, inputs, attrs, opset)
    (ours,) = onyx.backend.prepare(model).run([x for x in inputs if x is not None])
    ref = expect if expect is not None else run_oracle(model, inputs, oracle)
    assert_same(ours, ref)


def test_erf_double_precision():
    x = np.concatenate([np.linspace(-7, 7, 4001), [0.0, -0.0, 1e-300, 0.999999, 1, 3, 6]])
    ref = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), ref, rtol=1e-14, atol=0)
    assert np.signbit(erf(np.array([-0.0])))[0]
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf, np.nan])), [1, -1, np.nan])


BAD = [
    case("add-shapes", "Add", [rand(2, 3), rand(4)], 14),
    case("add-legacy-no-broadcast", "Add", [rand(2, 3), rand(3)], 6),
    case("add-legacy-axis-mismatch", "Add", [rand(2, 3, 4), rand(3)], 6, broadcast=1, axis=2),
    case("where-shapes", "Where", [rand(2, dtype=bool), rand(3), rand(3)], 16),
    case("bitshift-direction", "BitShift", [rand(3, dtype=np.uint8), rand(3, dtype=np.uint8)],
         11, direction="UP"),
    case("gelu-approximate", "Gelu", [rand(3)], 20, approximate="erf"),
    case("prelu-slope", "PRelu", [rand(2, 3), rand(2, 3, 1)], 16),
    case("clip-bound-shape", "Clip", [rand(3), rand(2), None], 13),
    case("max-shapes", "Max", [rand(2, 3), rand(3, 2)], 13),
    case("bitshift-shapes", "BitShift", [rand(2, 3, dtype=np.uint8), rand(2, dtype=np.uint8)],
         11, direction="LEFT"),
    case("mod-shapes", "Mod", [rand(2, 3, dtype=np.int32), rand(2, dtype=np.int32)], 13),
    case("equal-shapes", "Equal", [rand(2, 3), rand(2)], 19),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle,expect", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, oracle, expect):
    model = make_model(op, inputs, attrs, opset)
    with pytest.raises(OnyxError, match=op):
        onyx.backend.prepare(model).run([x for x in inputs if x is not None])
