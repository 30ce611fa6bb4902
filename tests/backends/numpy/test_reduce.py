"""Reductions, Softmax/LogSoftmax/Hardmax and the losses against onnxruntime.

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime (``onnx.reference`` where a row says so) and the
outputs must match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming
the op.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import onyx.backend
from onyx.ir.errors import OnyxError
from onyx.testing import assert_same, ints, random_array, run_oracle
from onyx.testing import single_node_model as make_model

rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return random_array(rng, *shape, dtype=dtype)


def case(name, op, inputs, opset=18, n_out=1, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, n_out, oracle, id=name)


REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]


def _reduce_cases():
    for op in REDUCE_OPS:
        x = rng.random((3, 4, 5)).astype(np.float32) + 0.5  # positive: LogSum is defined
        yield case(f"{op}-axes-keep", op, [x, ints(1)], keepdims=1)
        yield case(f"{op}-neg-axes-drop", op, [x, ints(-1, 0)], keepdims=0)
        yield case(f"{op}-all", op, [x])
        yield case(f"{op}-noop", op, [x, ints()], noop_with_empty_axes=1)
        yield case(f"{op}-attr-opset11", op, [x], opset=11, axes=[0, 2], keepdims=0)
        yield case(f"{op}-f64", op, [x.astype(np.float64), ints(2)])
        yield case(f"{op}-f16", op, [x.astype(np.float16), ints(0, 1)])
        yield case(f"{op}-scalar", op, [np.array(1.5, np.float32)])
        yield case(f"{op}-empty-set", op, [np.zeros((2, 0, 4), np.float32), ints(1)],
                   oracle="ref")
        if op not in ("ReduceLogSum", "ReduceLogSumExp", "ReduceL2"):
            yield case(f"{op}-int32", op, [rand(3, 4, dtype=np.int32), ints(1)], keepdims=0)
            yield case(f"{op}-int64", op, [rand(2, 3, 4, dtype=np.int64), ints(0, 2)])


REDUCE_CASES = [
    *_reduce_cases(),
    case("sum-opset13-input", "ReduceSum", [rand(3, 4), ints(0)], opset=13),
    case("sum-opset1-attr", "ReduceSum", [rand(3, 4)], opset=1, axes=[1]),
    case("sum-empty-non-reduced", "ReduceSum", [np.zeros((0, 3), np.float32), ints(1)],
         opset=13),
    case("sum-uint64", "ReduceSum", [rand(4, 5, dtype=np.uint64), ints(1)], opset=13,
         oracle="ref"),
    case("max-bool", "ReduceMax", [rand(3, 4, dtype=np.bool_), ints(1)], opset=20,
         oracle="ref"),
    case("min-bool", "ReduceMin", [rand(3, 4, dtype=np.bool_), ints(0)], opset=20,
         oracle="ref"),
    case("max-empty-bool", "ReduceMax", [np.zeros((2, 0), bool), ints(1)], opset=20,
         oracle="ref"),
    case("max-uint8", "ReduceMax", [rand(3, 4, dtype=np.uint8), ints(1)], opset=20),
    case("min-int8", "ReduceMin", [rand(3, 4, dtype=np.int8), ints(1)], opset=20),
    # NaN propagates (as in NumPy and PyTorch); onnxruntime skips it.
    case("max-nan", "ReduceMax", [np.array([[1, np.nan], [2, 3]], np.float32), ints(1)],
         oracle="ref"),
    case("lse-large", "ReduceLogSumExp", [np.array([[1e4, 1e4], [-1e4, 0]], np.float32),
                                          ints(1)]),
    case("lse-neg-inf", "ReduceLogSumExp", [np.full((2, 3), -np.inf, np.float32), ints(1)]),
    case("lse-opset28", "ReduceLogSumExp", [rand(3, 4), ints(1)], opset=28),
    case("logsum-opset28", "ReduceLogSum", [rand(3, 4) ** 2, ints(0)], opset=28),
    case("mean-bf16", "ReduceMean", [rand(4, 6).astype(ml_dtypes.bfloat16), ints(1)],
         oracle="ref"),
]

SOFTMAX_CASES = [
    case(f"{op}-{name}", op, [x], opset=opset, oracle=attrs.pop("_oracle", "ort"), **attrs)
    for op in ("Softmax", "LogSoftmax", "Hardmax")
    for name, x, opset, attrs in [
        ("default13", rand(2, 3, 4), 13, {}),
        ("axis0", rand(2, 3, 4), 13, {"axis": 0}),
        ("axis1", rand(2, 3, 4), 13, {"axis": 1}),
        ("neg-axis", rand(2, 3, 4), 13, {"axis": -2}),
        ("default11-coerce", rand(2, 3, 4), 11, {}),
        ("axis0-opset11", rand(2, 3, 4), 11, {"axis": 0}),
        ("axis2-opset1", rand(2, 3, 4), 1, {"axis": 2}),
        ("f16", rand(3, 5, dtype=np.float16), 13, {}),
        ("f64", rand(3, 5, dtype=np.float64), 13, {"_oracle": "ref"}),
        ("large", np.array([[1e4, 1e4 + 1, -1e4]], np.float32), 13, {}),
        ("ties", np.array([[1, 3, 3, 2]], np.float32), 13, {}),
        ("empty", np.zeros((0, 4), np.float32), 13, {}),
    ]
]


def _loss_cases():
    x = rand(4, 5)
    t = rng.integers(0, 5, 4)
    x3 = rand(3, 4, 2, 3)
    t3 = rng.integers(0, 4, (3, 2, 3))
    t3_ii = t3.copy()
    t3_ii[0, 0, 0] = -1
    w = rng.random(5).astype(np.float32)
    w4 = rng.random(4).astype(np.float32)
    for op, n_out in (("NegativeLogLikelihoodLoss", 1), ("SoftmaxCrossEntropyLoss", 2)):
        for red in ("none", "sum", "mean"):
            yield case(f"{op}-{red}", op, [x, t], opset=13, n_out=n_out, reduction=red)
            yield case(f"{op}-{red}-weight", op, [x, t, w], opset=13, n_out=n_out,
                       reduction=red)
            yield case(f"{op}-{red}-Nd-ii", op, [x3, t3_ii, w4], opset=13, n_out=n_out,
                       reduction=red, ignore_index=-1)
        yield case(f"{op}-int32-target", op, [x, t.astype(np.int32)], opset=13, n_out=n_out)
        yield case(f"{op}-ii-no-weight", op, [x3, t3, None], opset=13, n_out=n_out,
                   ignore_index=2)
        yield case(f"{op}-f64", op, [x3.astype(np.float64), t3], opset=13, n_out=n_out,
                   reduction="sum")
    yield case("nll-opset22", "NegativeLogLikelihoodLoss", [x, t], opset=22)
    yield case("sce-opset12-log-prob", "SoftmaxCrossEntropyLoss", [x3, t3], opset=12, n_out=2)


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle",
                         REDUCE_CASES + SOFTMAX_CASES + list(_loss_cases()))
def test_against_oracle(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = list(onyx.backend.prepare(model).run([x for x in inputs if x is not None]))
    ref = run_oracle(model, inputs, oracle)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert isinstance(a, np.ndarray)
        assert_same(a, b)


BAD = [
    case("reduce-axis-out-of-range", "ReduceSum", [rand(2, 3), ints(2)], opset=13),
    case("reduce-repeated-axis", "ReduceMax", [rand(2, 3), ints(1, -1)]),
    case("reduce-attr-axis", "ReduceMean", [rand(2, 3)], opset=11, axes=[-3]),
    case("softmax-axis", "Softmax", [rand(2, 3)], opset=13, axis=2),
    case("softmax-scalar", "LogSoftmax", [np.array(1.0, np.float32)], opset=13),
    case("nll-target-shape", "NegativeLogLikelihoodLoss", [rand(4, 5), ints(1, 2)], opset=13),
    case("nll-target-range", "NegativeLogLikelihoodLoss", [rand(2, 5), ints(1, 7)], opset=13),
    case("nll-weight-shape", "NegativeLogLikelihoodLoss", [rand(2, 5), ints(1, 2),
                                                          rand(4)], opset=13),
    case("nll-reduction", "NegativeLogLikelihoodLoss", [rand(2, 5), ints(1, 2)], opset=13,
         reduction="avg"),
    case("sce-1d", "SoftmaxCrossEntropyLoss", [rand(5), ints(1)], opset=13),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    with pytest.raises(OnyxError, match=op):
        onyx.backend.prepare(model).run([x for x in inputs if x is not None])


def test_empty_set_identities():
    x = np.zeros((2, 0), np.float32)
    expect = {"ReduceSum": 0, "ReduceProd": 1, "ReduceMax": -np.inf, "ReduceMin": np.inf,
              "ReduceL1": 0, "ReduceL2": 0, "ReduceSumSquare": 0, "ReduceLogSum": -np.inf,
              "ReduceLogSumExp": -np.inf}
    for op, value in expect.items():
        model = make_model(op, [x, ints(1)], {"keepdims": 0}, 18)
        (y,) = onyx.backend.prepare(model).run([x, ints(1)])
        np.testing.assert_array_equal(y, np.full((2,), value, np.float32), err_msg=op)
    xi = np.zeros((3, 0), np.int32)
    model = make_model("ReduceMax", [xi, ints(1)], {}, 18)
    (y,) = onyx.backend.prepare(model).run([xi, ints(1)])
    assert y.dtype == np.int32 and (y == np.iinfo(np.int32).min).all()
