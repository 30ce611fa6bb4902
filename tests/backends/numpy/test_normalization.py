"""The normalization kernels (batch, instance, layer, group, RMS, Lp, MVN, LRN) against
onnxruntime.

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime (``onnx.reference`` where a row says so) and the
outputs must match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming
the op.
"""

from __future__ import annotations

import numpy as np
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


def pos(*shape, dtype=np.float32):
    return (rng.random(shape) + 0.5).astype(dtype)


def _bn_inputs(shape, dtype=np.float32):
    c = shape[1]
    return [rand(*shape, dtype=dtype), rand(c, dtype=dtype), rand(c, dtype=dtype),
            rand(c, dtype=dtype), pos(c, dtype=dtype)]


def _norm_cases():
    for opset in (7, 9, 14, 15):
        yield case(f"bn-{opset}", "BatchNormalization", _bn_inputs((2, 3, 4, 5)), opset=opset)
    yield case("bn-6-is-test", "BatchNormalization", _bn_inputs((2, 3, 4)), opset=6, is_test=1,
               oracle="ref")
    yield case("bn-2d", "BatchNormalization", _bn_inputs((4, 3)), opset=15, epsilon=1e-2)
    yield case("bn-f16", "BatchNormalization", _bn_inputs((2, 3, 4), np.float16), opset=15)
    yield case("bn-f64", "BatchNormalization", _bn_inputs((2, 3, 4), np.float64), opset=15)
    yield case("bn-training", "BatchNormalization", _bn_inputs((2, 3, 4, 5)), opset=15,
               n_out=3, training_mode=1, momentum=0.8)
    x = rand(2, 3, 4, 5)
    yield case("in", "InstanceNormalization", [x, rand(3), rand(3)], opset=6)
    yield case("in-3d", "InstanceNormalization", [rand(2, 3, 7), rand(3), rand(3)], opset=22,
               epsilon=1e-2)
    yield case("in-f16", "InstanceNormalization", [rand(2, 3, 7, dtype=np.float16),
                                                   rand(3, dtype=np.float16),
                                                   rand(3, dtype=np.float16)], opset=6)
    for axis in (-1, -2, 0, 1, 3):
        yield case(f"ln-axis{axis}", "LayerNormalization", [x, rand(*x.shape[axis:]),
                                                            rand(*x.shape[axis:])],
                   opset=17, n_out=3, axis=axis)
    yield case("ln-no-bias", "LayerNormalization", [x, rand(5)], opset=17, n_out=3,
               epsilon=1e-1)
    yield case("ln-bcast-scale", "LayerNormalization", [x, rand(1, 5), rand(5)], opset=17,
               axis=-2)
    yield case("ln-f16", "LayerNormalization", [rand(3, 8, dtype=np.float16),
                                                rand(8, dtype=np.float16),
                                                rand(8, dtype=np.float16)], opset=17, n_out=3)
    yield case("gn-18", "GroupNormalization", [rand(3, 4, 2, 2), rand(2), rand(2)], opset=18,
               num_groups=2, oracle="ref")
    yield case("gn-21", "GroupNormalization", [rand(3, 6, 5), rand(6), rand(6)], opset=21,
               num_groups=3, epsilon=1e-2)
    yield case("gn-21-one-group", "GroupNormalization", [x, rand(3), rand(3)], opset=21,
               num_groups=1)
    yield case("gn-21-f16", "GroupNormalization", [rand(2, 4, 3, dtype=np.float16),
                                                   rand(4, dtype=np.float16),
                                                   rand(4, dtype=np.float16)], opset=21,
               num_groups=2)
    for axis in (-1, -3, 0, 2):
        yield case(f"rms-axis{axis}", "RMSNormalization", [x, rand(*x.shape[axis:])], opset=23,
                   axis=axis)
    yield case("rms-f16", "RMSNormalization", [rand(3, 8, dtype=np.float16),
                                               rand(8, dtype=np.float16)], opset=23,
               epsilon=1e-3)
    for p in (1, 2):
        for axis in (-1, 0, 1):
            yield case(f"lp-p{p}-axis{axis}", "LpNormalization", [rand(3, 4, 5)], opset=1, p=p,
                       axis=axis)
    yield case("lp-zero-row", "LpNormalization", [np.array([[0, 0], [3, 4]], np.float32)],
               opset=22, oracle="ref")
    yield case("mvn", "MeanVarianceNormalization", [rand(3, 3, 4, 2)], opset=13)
    yield case("mvn-axes", "MeanVarianceNormalization", [rand(3, 4, 5)], opset=9, axes=[1, 2])
    for size in (1, 3, 5, 9):  # onnxruntime takes odd sizes only
        yield case(f"lrn-size{size}", "LRN", [rand(2, 5, 3, 4)], opset=13, size=size)
    yield case("lrn-attrs", "LRN", [rand(2, 6, 3, 3)], opset=1, size=3, alpha=2e-3, beta=0.5,
               bias=2.0)


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", list(_norm_cases()))
def test_against_oracle(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = list(onyx.backend.prepare(model).run([x for x in inputs if x is not None]))
    ref = run_oracle(model, inputs, oracle)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert isinstance(a, np.ndarray)
        assert_same(a, b)


def _bn_training_expect(x, s, b, mean, var, momentum, eps, axes):
    bm, bv = x.mean(axis=axes), x.var(axis=axes)
    shape = [1] * x.ndim
    shape[1] = -1
    y = (x - bm.reshape(shape)) / np.sqrt(bv.reshape(shape) + eps) * s.reshape(shape) + \
        b.reshape(shape)
    return y, mean * momentum + bm * (1 - momentum), var * momentum + bv * (1 - momentum), bm, bv


@pytest.mark.parametrize("opset,attrs", [(6, {}), (7, {}), (9, {}), (14, {"training_mode": 1}),
                                         (15, {"training_mode": 1})])
def test_batch_norm_training_outputs(opset, attrs):
    """Training mode normalizes with batch statistics and updates the running ones (the spec;
    onnx.reference's opset-9 kernel normalizes with the updated running statistics)."""
    inputs = _bn_inputs((3, 2, 4, 2))
    n_out = 3 if opset >= 14 else 5
    model = make_model("BatchNormalization", inputs, dict(attrs, momentum=0.7), opset, n_out)
    ours = onyx.backend.prepare(model).run(inputs)
    want = _bn_training_expect(*inputs, 0.7, 1e-5, (0, 2, 3))[:n_out]
    for a, w in zip(ours, want):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, w, rtol=1e-4, atol=1e-5)


def test_batch_norm_non_spatial():
    """Opsets < 9 with spatial=0: statistics per activation (over N only)."""
    x = rand(4, 3, 2)
    params = [rand(3, 2), rand(3, 2), rand(3, 2), pos(3, 2)]
    model = make_model("BatchNormalization", [x, *params], {"spatial": 0}, 7, n_out=5)
    y, rm, rv, bm, bv = onyx.backend.prepare(model).run([x, *params])
    np.testing.assert_allclose(bm, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bv, x.var(0), rtol=1e-5)
    want = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * params[0] + params[1]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    assert rm.shape == (3, 2)


@pytest.mark.parametrize("shape,size", [((2, 6, 7), 4), ((2, 5, 3, 2), 2), ((1, 3), 6)])
def test_lrn_even_sizes_and_any_rank(shape, size):
    """The window is [c - floor((size-1)/2), c + ceil((size-1)/2)] (onnxruntime takes odd sizes
    and 4-D inputs only; onnx.reference's LRN loops over the batch instead of the channels)."""
    x = rand(*shape)
    model = make_model("LRN", [x], {"size": size, "alpha": 0.1}, 13)
    (y,) = onyx.backend.prepare(model).run([x])
    c_total, lo, hi = shape[1], (size - 1) // 2, size // 2
    want = np.empty_like(x)
    for c in range(c_total):
        window = (x[:, max(0, c - lo):min(c_total, c + hi + 1)] ** 2).sum(axis=1)
        want[:, c] = x[:, c] / (1 + 0.1 / size * window) ** 0.75
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_mean_variance_norm_f16():
    x = rand(3, 3, 4, 2, dtype=np.float16)
    model = make_model("MeanVarianceNormalization", [x], {}, 13)
    (y,) = onyx.backend.prepare(model).run([x])
    xf = x.astype(np.float32)
    m = xf.mean(axis=(0, 2, 3), keepdims=True)
    want = (xf - m) / (np.sqrt(((xf - m) ** 2).mean(axis=(0, 2, 3), keepdims=True)) + 1e-9)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.astype(np.float32), want, rtol=2e-3, atol=2e-3)


def test_rms_norm_output_has_scale_type():
    """Y has scale's type V (the schema); normalized X is rounded to X's type first."""
    x, s = rand(3, 8, dtype=np.float16), rand(8)
    model = make_model("RMSNormalization", [x, s], {}, 23)
    (y,) = onyx.backend.prepare(model).run([x, s])
    xf = x.astype(np.float32)
    norm = (xf / np.sqrt((xf * xf).mean(-1, keepdims=True) + 1e-5)).astype(np.float16)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, norm.astype(np.float32) * s, rtol=1e-6)


def test_layer_norm_double_stash():
    x, s = rand(3, 8, dtype=np.float64), rand(8, dtype=np.float64)
    model = make_model("LayerNormalization", [x, s], {"stash_type": 11}, 17, n_out=3)
    y, mean, inv = onyx.backend.prepare(model).run([x, s])
    assert y.dtype == mean.dtype == inv.dtype == np.float64
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * s
    np.testing.assert_allclose(y, want, rtol=1e-12)


def test_layer_norm_statistics_dtype():
    x = rand(2, 3, 4, dtype=np.float16)
    inputs = [x, rand(3, 4, dtype=np.float16)]
    model = make_model("LayerNormalization", inputs, {"axis": 1}, 17, n_out=3)
    y, mean, inv = onyx.backend.prepare(model).run(inputs)
    assert y.dtype == np.float16 and mean.dtype == np.float32 and inv.dtype == np.float32
    assert mean.shape == inv.shape == (2, 1, 1)
    xf = x.astype(np.float32)
    np.testing.assert_allclose(mean.ravel(), xf.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(inv.ravel(), 1 / np.sqrt(xf.var(axis=(1, 2)) + 1e-5),
                               rtol=1e-4)


BAD = [
    case("bn-channel-params", "BatchNormalization", [rand(2, 3, 4), rand(4), rand(3), rand(3),
                                                     pos(3)], opset=15),
    case("bn-rank1", "BatchNormalization", [rand(3), rand(3), rand(3), rand(3), pos(3)],
         opset=15),
    case("in-scale", "InstanceNormalization", [rand(2, 3, 4), rand(2), rand(3)], opset=22),
    case("ln-axis", "LayerNormalization", [rand(2, 3), rand(3)], opset=17, axis=2),
    case("ln-scale-shape", "LayerNormalization", [rand(2, 3), rand(4)], opset=17),
    case("gn-groups", "GroupNormalization", [rand(2, 6, 3), rand(6), rand(6)], opset=21,
         num_groups=4),
    case("gn-no-groups", "GroupNormalization", [rand(2, 6, 3), rand(6), rand(6)], opset=21),
    case("gn-18-param", "GroupNormalization", [rand(2, 6, 3), rand(6), rand(6)], opset=18,
         num_groups=3),
    case("rms-scale", "RMSNormalization", [rand(2, 3), rand(2)], opset=23),
    case("lp-p3", "LpNormalization", [rand(2, 3)], opset=22, p=3),
    case("mvn-axes", "MeanVarianceNormalization", [rand(2, 3)], opset=13),
    case("lrn-size", "LRN", [rand(2, 3, 4, 4)], opset=13, size=0),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    with pytest.raises(OnyxError, match=op):
        onyx.backend.prepare(model).run([x for x in inputs if x is not None])
