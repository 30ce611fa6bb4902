"""MatMul, Gemm, MatMulInteger, QLinearMatMul and the quantization ops against onnxruntime.

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime (``onnx.reference`` where a row says so) and the
outputs must match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming
the op.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest

import onyx.backend
from onyx.ir.errors import OnyxError
from onyx.testing import assert_same, random_array, run_oracle
from onyx.testing import single_node_model as make_model

rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return random_array(rng, *shape, dtype=dtype)


def case(name, op, inputs, opset=18, n_out=1, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, n_out, oracle, id=name)


def q(*shape, dtype=np.uint8):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


def f32(*values):
    return np.array(values, dtype=np.float32)


def scalar(v, dtype=np.float32):
    return np.array(v, dtype=dtype)


MATMUL_CASES = [
    case("2d", "MatMul", [rand(3, 4), rand(4, 5)], opset=13),
    case("1d-1d", "MatMul", [rand(4), rand(4)], opset=13),
    case("1d-3d", "MatMul", [rand(4), rand(2, 4, 3)], opset=13),
    case("4d-1d", "MatMul", [rand(2, 3, 5, 4), rand(4)], opset=13),
    case("bcast", "MatMul", [rand(2, 1, 3, 4), rand(5, 4, 2)], opset=13),
    case("f16", "MatMul", [rand(3, 8, dtype=np.float16), rand(8, 2, dtype=np.float16)],
         opset=13),
    case("f64", "MatMul", [rand(3, 8, dtype=np.float64), rand(8, 2, dtype=np.float64)],
         opset=13),
    case("int32", "MatMul", [rand(3, 4, dtype=np.int32), rand(4, 2, dtype=np.int32)],
         opset=13),
    case("int64", "MatMul", [rand(3, 4, dtype=np.int64), rand(4, 2, dtype=np.int64)],
         opset=13),
    case("bf16", "MatMul", [rand(3, 4).astype(ml_dtypes.bfloat16),
                            rand(4, 2).astype(ml_dtypes.bfloat16)], opset=13, oracle="ref"),
    case("empty-k", "MatMul", [rand(3, 0), rand(0, 2)], opset=13),
    case("empty-batch", "MatMul", [rand(0, 3, 4), rand(4, 2)], opset=13),
    case("opset1", "MatMul", [rand(3, 4), rand(4, 5)], opset=1),
    case("gemm", "Gemm", [rand(3, 4), rand(4, 5), rand(3, 5)], opset=13),
    case("gemm-all-attrs", "Gemm", [rand(4, 3), rand(5, 4), rand(1, 5)], opset=13, alpha=0.25,
         beta=0.35, transA=1, transB=1),
    case("gemm-no-c", "Gemm", [rand(3, 4), rand(4, 5)], opset=13),
    case("gemm-scalar-c", "Gemm", [rand(3, 4), rand(4, 5), rand()], opset=11, beta=2.0),
    case("gemm-col-c", "Gemm", [rand(3, 4), rand(4, 5), rand(3, 1)], opset=13),
    case("gemm-f16", "Gemm", [rand(3, 4, dtype=np.float16), rand(4, 5, dtype=np.float16),
                              rand(5, dtype=np.float16)], opset=13),
    case("gemm-f64-transB", "Gemm", [rand(3, 4, dtype=np.float64),
                                     rand(5, 4, dtype=np.float64),
                                     rand(5, dtype=np.float64)], opset=9, transB=1),
    case("gemm-opset7", "Gemm", [rand(3, 4), rand(4, 5), rand(5)], opset=7, alpha=2.0),
    case("gemm-opset6-broadcast", "Gemm", [rand(3, 4), rand(4, 5), rand(5)], opset=6,
         broadcast=1, oracle="ref"),
    case("gemm-opset6-full-c", "Gemm", [rand(3, 4), rand(4, 5), rand(3, 5)], opset=6,
         oracle="ref"),
    case("gemm-beta0", "Gemm", [rand(3, 4), rand(4, 5), rand(3, 5)], opset=13, beta=0.0),
    case("gemm-empty", "Gemm", [rand(0, 4), rand(4, 5), rand(5)], opset=13),
    case("mmint", "MatMulInteger", [q(3, 4), q(4, 5), scalar(12, np.uint8),
                                    scalar(200, np.uint8)], opset=10),
    case("mmint-no-zp", "MatMulInteger", [q(2, 3, 4, dtype=np.int8), q(4, 5, dtype=np.int8)],
         opset=10),
    case("mmint-u8-s8", "MatMulInteger", [q(3, 4), q(4, 5, dtype=np.int8), scalar(3, np.uint8),
                                          scalar(-2, np.int8)], opset=10),
    case("mmint-1d", "MatMulInteger", [q(4), q(4, 5), scalar(7, np.uint8)], opset=10),
    case("qlmm-u8", "QLinearMatMul", [q(3, 4), scalar(0.02), scalar(100, np.uint8), q(4, 5),
                                      scalar(0.01), scalar(120, np.uint8), scalar(0.5),
                                      scalar(128, np.uint8)], opset=10),
    case("qlmm-s8-3d", "QLinearMatMul", [q(2, 3, 4, dtype=np.int8), scalar(0.03),
                                         scalar(-3, np.int8), q(4, 5, dtype=np.int8),
                                         scalar(0.02), scalar(5, np.int8), scalar(0.4),
                                         scalar(-1, np.int8)], opset=21),
    case("qlmm-f16-scales", "QLinearMatMul", [q(3, 4), scalar(0.02, np.float16),
                                              scalar(100, np.uint8), q(4, 5),
                                              scalar(0.01, np.float16), scalar(120, np.uint8),
                                              scalar(0.5, np.float16), scalar(128, np.uint8)],
         opset=21),
]


def _q_cases():
    x = rand(3, 4) * 10
    zp_u8 = np.array([3, 250, 128], np.uint8)
    for opset in (10, 13, 19, 21, 23, 25):
        yield case(f"q-per-tensor-{opset}", "QuantizeLinear",
                   [x, scalar(0.1), scalar(128, np.uint8)], opset=opset)
        yield case(f"dq-per-tensor-{opset}", "DequantizeLinear",
                   [q(3, 4, dtype=np.int8), scalar(0.1), scalar(-3, np.int8)], opset=opset)
    yield case("q-no-zp", "QuantizeLinear", [x, scalar(0.05)], opset=13)
    yield case("q-int8-ties", "QuantizeLinear", [f32(0.5, 1.5, 2.5, -0.5, -1.5, 300, -300),
                                                 scalar(1.0), scalar(0, np.int8)], opset=13)
    yield case("q-axis0", "QuantizeLinear", [x, f32(0.1, 0.2, 0.3), zp_u8], opset=13, axis=0)
    yield case("q-axis-neg", "QuantizeLinear", [x, f32(0.1, 0.2, 0.3, 0.4),
                                                np.array([1, 2, 3, 4], np.int8)], opset=21,
               axis=-1)
    yield case("q-blocked", "QuantizeLinear", [rand(3, 5) * 10, rand(3, 3) ** 2 + 0.1,
                                               q(3, 3)], opset=21, axis=1, block_size=2)
    yield case("q-output-dtype-int16", "QuantizeLinear", [x * 100, scalar(0.01)], opset=21,
               output_dtype=onnx.TensorProto.INT16)
    yield case("q-uint16", "QuantizeLinear", [x, scalar(0.001), scalar(30000, np.uint16)],
               opset=21)
    yield case("q-f16", "QuantizeLinear", [x.astype(np.float16), scalar(0.1, np.float16),
                                           scalar(0, np.int8)], opset=19)
    yield case("q-int32-x", "QuantizeLinear", [rand(3, 4, dtype=np.int32), scalar(0.5)],
               opset=13, oracle="ref")
    yield case("dq-axis", "DequantizeLinear", [q(3, 4), f32(0.1, 0.2, 0.3), zp_u8], opset=13,
               axis=0)
    yield case("dq-int32", "DequantizeLinear", [q(3, 4, dtype=np.int32), scalar(0.001)],
               opset=13)
    yield case("dq-blocked", "DequantizeLinear", [q(4, 3), rand(2, 3) ** 2, q(2, 3)], opset=21,
               axis=0, block_size=3)
    yield case("dq-f16-scale", "DequantizeLinear", [q(3, 4), scalar(0.1, np.float16)],
               opset=21)
    yield case("dq-output-dtype", "DequantizeLinear", [q(3, 4), scalar(0.1)], opset=23,
               output_dtype=onnx.TensorProto.FLOAT16, oracle="ref")
    for name, dt in (("int4", ml_dtypes.int4), ("uint4", ml_dtypes.uint4),
                     ("e4m3fn", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2),
                     ("e4m3fnuz", ml_dtypes.float8_e4m3fnuz), ("f4e2m1", ml_dtypes.float4_e2m1fn),
                     ("int2", ml_dtypes.int2)):
        zp = np.zeros((), dt)
        yield case(f"q-{name}", "QuantizeLinear", [x, scalar(0.5), zp], opset=25, oracle="ref")
        yield case(f"dq-{name}", "DequantizeLinear", [(x / 2).astype(dt), scalar(0.5), zp],
                   opset=25, oracle="ref")
    big = f32(1e4, -1e4, np.inf, -np.inf, np.nan, 3.3)
    for sat in (0, 1):
        for dt in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2):
            yield case(f"q-saturate{sat}-{np.dtype(dt).name}", "QuantizeLinear",
                       [big, scalar(1.0), np.zeros((), dt)], opset=21, oracle="ref",
                       saturate=sat)
    yield case("dynamic", "DynamicQuantizeLinear", [rand(3, 4)], opset=11, n_out=3)
    yield case("dynamic-positive", "DynamicQuantizeLinear", [rand(6) ** 2 + 1], opset=11,
               n_out=3)
    yield case("dynamic-negative", "DynamicQuantizeLinear", [-(rand(2, 5) ** 2) - 1],
               opset=11, n_out=3)


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle",
                         MATMUL_CASES + list(_q_cases()))
def test_against_oracle(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = list(onyx.backend.prepare(model).run([x for x in inputs if x is not None]))
    ref = run_oracle(model, inputs, oracle)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert isinstance(a, np.ndarray)
        assert_same(a, b)


def test_per_row_and_per_column_zero_points():
    """A vector zero point/scale is per row of A and per column of B (neither oracle has it)."""
    a, b, azp, bzp = q(3, 4), q(4, 5), q(3), q(5)
    want = (a.astype(np.int64) - azp[:, None]) @ (b.astype(np.int64) - bzp)
    model = make_model("MatMulInteger", [a, b, azp, bzp], {}, 10)
    (y,) = onyx.backend.prepare(model).run([a, b, azp, bzp])
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, want)

    a_s, b_s = f32(0.02, 0.03, 0.01), rng.random(5).astype(np.float32) / 50
    inputs = [a, a_s, azp, b, b_s, bzp, scalar(0.3), scalar(128, np.uint8)]
    model = make_model("QLinearMatMul", inputs, {}, 21)
    (y,) = onyx.backend.prepare(model).run(inputs)
    real = want * a_s[:, None].astype(np.float64) * b_s.astype(np.float64)
    expect = np.clip(np.rint(real / np.float64(np.float32(0.3))) + 128, 0, 255)
    np.testing.assert_array_equal(y, expect.astype(np.uint8))


def test_quantize_saturation_table():
    """Float8 conversion follows the spec's saturate tables (and not only onnx.reference)."""
    x = f32(1e4, -1e4, np.inf, -np.inf, 3.3)
    e4, e5 = ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2
    for dt, sat, want in [(e4, 1, [448, -448, 448, -448, 3.25]),
                          (e5, 1, [10240, -10240, 57344, -57344, 3.5]),
                          (e4, 0, [np.nan, np.nan, np.nan, np.nan, 3.25]),
                          (e5, 0, [10240, -10240, np.inf, -np.inf, 3.5])]:
        inputs = [x, scalar(1.0), np.zeros((), dt)]
        model = make_model("QuantizeLinear", inputs, {"saturate": sat}, 21)
        (y,) = onyx.backend.prepare(model).run(inputs)
        assert y.dtype == np.dtype(dt)
        np.testing.assert_array_equal(y.astype(np.float32), f32(*want))


BAD = [
    case("matmul-inner", "MatMul", [rand(3, 4), rand(5, 2)], opset=13),
    case("matmul-batch", "MatMul", [rand(2, 3, 4), rand(3, 4, 2)], opset=13),
    case("matmul-scalar", "MatMul", [rand(), rand(3)], opset=13),
    case("gemm-3d", "Gemm", [rand(2, 3, 4), rand(4, 5)], opset=13),
    case("gemm-inner", "Gemm", [rand(3, 4), rand(3, 5)], opset=13),
    case("gemm-bad-c", "Gemm", [rand(3, 4), rand(4, 5), rand(4)], opset=13),
    case("gemm-opset6-no-broadcast", "Gemm", [rand(3, 4), rand(4, 5), rand(5)], opset=6),
    case("mmint-bad-zp", "MatMulInteger", [q(3, 4), q(4, 5), q(2)], opset=10),
    case("q-axis-length", "QuantizeLinear", [rand(3, 4), f32(0.1, 0.2), q(2)], opset=13,
         axis=1),
    case("q-zp-shape", "QuantizeLinear", [rand(3, 4), f32(0.1, 0.2, 0.3, 0.4), q(3)],
         opset=13),
    case("q-blocked-shape", "QuantizeLinear", [rand(3, 4), rand(3, 1) ** 2], opset=21, axis=1,
         block_size=2),
    case("dq-zp-type", "DequantizeLinear", [q(3, 4), scalar(0.1), scalar(1, np.int8)],
         opset=13),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    with pytest.raises(OnyxError, match=op):
        onyx.backend.prepare(model).run([x for x in inputs if x is not None])
