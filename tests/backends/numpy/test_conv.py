"""Conv, ConvTranspose, ConvInteger, QLinearConv and DeformConv against onnxruntime.

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime (``onnx.reference`` where a row says so) and the
outputs must match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming
the op.
"""

from __future__ import annotations

import numpy as np
import pytest

import onyx.backend
from onyx.backends.numpy.kernels import conv as conv_kernels
from onyx.ir.errors import OnyxError
from onyx.testing import run_oracle
from onyx.testing import single_node_model as make_model

rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def q(*shape, dtype=np.uint8):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


def scalar(v, dtype=np.float32):
    return np.array(v, dtype=dtype)


def run_ours(model, inputs):
    return list(onyx.backend.prepare(model).run([x for x in inputs if x is not None]))


def assert_same(ours, ref):
    ref = np.asarray(ref)
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype.kind == "f":
        tol = 1e-2 if ref.dtype.itemsize == 2 else 1e-4
        np.testing.assert_allclose(ours.astype(np.float64), ref.astype(np.float64), rtol=tol,
                                   atol=tol)
    else:
        np.testing.assert_array_equal(ours, ref)


def case(name, op, inputs, opset=22, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, oracle, id=name)


def _conv_cases():
    for dims, spatial in ((1, (11,)), (2, (7, 6)), (3, (5, 4, 6))):
        k = [3] * dims
        x, w, b = rand(2, 4, *spatial), rand(6, 2, *k), rand(6)
        yield case(f"conv{dims}d-pads", "Conv", [x, rand(6, 4, *k), b],
                   pads=[1] * dims + [0] * dims)
        yield case(f"conv{dims}d-group-stride-dil", "Conv", [x, w, b], group=2,
                   strides=[2] * dims, dilations=[2] * dims, pads=[2] * 2 * dims)
        for auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
            yield case(f"conv{dims}d-{auto_pad}", "Conv", [x, w], group=2, auto_pad=auto_pad,
                       strides=[2] * dims)
        yield case(f"convT{dims}d", "ConvTranspose", [x, rand(4, 3, *k), rand(6)], group=2,
                   strides=[2] * dims, pads=[1] * dims + [0] * dims)
        yield case(f"convT{dims}d-dil-outpad", "ConvTranspose", [x, rand(4, 2, *k)],
                   strides=[3] * dims, dilations=[2] * dims, output_padding=[1] * dims)
    x = rand(1, 3, 9, 8)
    yield case("conv-f16", "Conv", [x.astype(np.float16), rand(4, 3, 3, 3, dtype=np.float16)],
               pads=[1, 1, 1, 1])
    yield case("conv-f64", "Conv", [x.astype(np.float64), rand(4, 3, 3, 3, dtype=np.float64)],
               oracle="ref")
    yield case("conv-depthwise", "Conv", [rand(2, 8, 9, 9), rand(8, 1, 3, 3)], group=8,
               strides=[2, 2], pads=[1, 1, 1, 1], opset=11)
    yield case("conv-1x1", "Conv", [x, rand(5, 3, 1, 1), rand(5)], opset=1)
    yield case("conv-kernel-attr", "Conv", [x, rand(2, 3, 2, 3)], kernel_shape=[2, 3])
    yield case("conv-asym-pads", "Conv", [x, rand(2, 3, 3, 3)], pads=[0, 2, 3, 1],
               strides=[3, 2])
    yield case("conv-empty-batch", "Conv", [rand(0, 3, 5, 5), rand(2, 3, 3, 3)], oracle="ref")
    for auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        yield case(f"conv-dilated-{auto_pad}", "Conv", [x, rand(2, 3, 3, 3)],
                   auto_pad=auto_pad, dilations=[2, 2], oracle="ref")
    w = rand(3, 2, 3, 3)
    for os_ in ([17, 16], [18, 15], [19, 18]):
        for ap in ("NOTSET", "SAME_UPPER", "SAME_LOWER"):
            yield case(f"convT-output-shape-{os_[0]}-{ap}", "ConvTranspose", [x, w],
                       strides=[2, 2], output_shape=os_, auto_pad=ap)
    yield case("convT-same-upper", "ConvTranspose", [x, w], strides=[2, 3],
               auto_pad="SAME_UPPER")
    yield case("convT-f16", "ConvTranspose", [x.astype(np.float16), w.astype(np.float16)],
               strides=[2, 2])
    yield case("convT-opset1", "ConvTranspose", [x, w, rand(2)], opset=1, pads=[1, 1, 1, 1])


def _integer_cases():
    x8, w8 = q(2, 4, 7, 6), q(6, 4, 3, 3)
    yield case("convint", "ConvInteger", [x8, w8, scalar(12, np.uint8), scalar(100, np.uint8)],
               opset=10, pads=[1, 1, 1, 1])
    yield case("convint-s8-weights", "ConvInteger", [x8, q(6, 2, 3, 3, dtype=np.int8),
                                                     scalar(3, np.uint8)],
               opset=10, group=2, strides=[2, 2])
    yield case("convint-no-zp", "ConvInteger", [x8, w8], opset=10, auto_pad="SAME_UPPER")
    for xdt, wdt in ((np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)):
        x, w = q(2, 4, 7, 6, dtype=xdt), q(6, 4, 3, 3, dtype=wdt)
        for per_channel in (False, True):
            if per_channel:
                w_scale = rng.random(6).astype(np.float32) * 0.01 + 0.001
                w_zp = np.full(6, 3 if wdt == np.uint8 else 0, dtype=wdt)
            else:
                w_scale, w_zp = scalar(0.005), scalar(3 if wdt == np.uint8 else 0, wdt)
            yield case(f"qlinearconv-{np.dtype(xdt)}-{np.dtype(wdt)}-{per_channel}",
                       "QLinearConv",
                       [x, scalar(0.02), scalar(5, xdt), w, w_scale, w_zp, scalar(0.05),
                        scalar(7, xdt), q(6, dtype=np.int32) // 1000000],
                       opset=10, pads=[1, 1, 1, 1])


def _deform_cases():
    x, w = rand(2, 4, 7, 6), rand(6, 2, 3, 2)
    for og in (1, 2):
        offset = rand(2, og * 6 * 2, 4, 3) * 1.5
        mask = rng.random((2, og * 6, 4, 3)).astype(np.float32)
        attrs = dict(group=2, offset_group=og, strides=[2, 2], pads=[1, 0, 1, 1],
                     dilations=[1, 2])
        yield case(f"deform-og{og}", "DeformConv", [x, w, offset, rand(6)], opset=19, **attrs)
        yield case(f"deform-og{og}-mask", "DeformConv", [x, w, offset, None, mask], opset=22,
                   **attrs)
    yield case("deform-zero-offset", "DeformConv", [x, rand(3, 4, 2, 2), np.zeros(
        (2, 8, 6, 5), np.float32)], opset=19)


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle",
                         list(_conv_cases()) + list(_integer_cases()) + list(_deform_cases()))
def test_against_oracle(op, inputs, attrs, opset, oracle):
    model = make_model(op, inputs, attrs, opset)
    ours = run_ours(model, inputs)
    ref = run_oracle(model, inputs, oracle)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert_same(a, b)


def test_deform_conv_zero_offset_is_conv():
    """With zero offsets and no mask DeformConv is exactly Conv (an identity of the spec)."""
    x, w = rand(1, 4, 6, 7), rand(4, 2, 3, 3)
    attrs = dict(group=2, pads=[1, 1, 0, 2], strides=[1, 2])
    offset = np.zeros((1, 18, 5, 4), np.float32)
    (deformed,) = run_ours(make_model("DeformConv", [x, w, offset], attrs, 19), [x, w, offset])
    (plain,) = run_ours(make_model("Conv", [x, w], attrs, 19), [x, w])
    np.testing.assert_allclose(deformed, plain, rtol=1e-5, atol=1e-5)


def test_conv_without_column_buffer(monkeypatch):
    """Inputs too large for im2col take the tap-by-tap path; both give the same result."""
    x, w, b = rand(2, 6, 9, 8), rand(4, 3, 3, 2), rand(4)
    attrs = dict(group=2, pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2])
    model = make_model("Conv", [x, w, b], attrs, 22)
    (want,) = run_ours(model, [x, w, b])
    monkeypatch.setattr(conv_kernels, "_COLUMN_BUDGET", 1)
    (got,) = run_ours(model, [x, w, b])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


BAD = [
    case("conv-channels", "Conv", [rand(1, 3, 5, 5), rand(2, 2, 3, 3)]),
    case("conv-group", "Conv", [rand(1, 4, 5, 5), rand(3, 2, 3, 3)], group=2),
    case("conv-rank", "Conv", [rand(3, 5), rand(2, 3, 3)]),
    case("conv-kernel-too-big", "Conv", [rand(1, 3, 2, 2), rand(2, 3, 5, 5)]),
    case("conv-bad-pads", "Conv", [rand(1, 3, 5, 5), rand(2, 3, 3, 3)], pads=[1, 1]),
    case("conv-bad-auto-pad", "Conv", [rand(1, 3, 5, 5), rand(2, 3, 3, 3)], auto_pad="FULL"),
    case("conv-bad-bias", "Conv", [rand(1, 3, 5, 5), rand(2, 3, 3, 3), rand(3)]),
    case("conv-huge-pads", "Conv", [rand(1, 1, 2, 2), rand(1, 1, 1, 1)],
         pads=[1 << 40, 0, 0, 0], strides=[1 << 40, 1]),
    case("convT-channels", "ConvTranspose", [rand(1, 3, 5, 5), rand(2, 2, 3, 3)]),
    case("convT-pads-too-big", "ConvTranspose", [rand(1, 2, 2, 2), rand(2, 1, 2, 2)],
         pads=[3, 3, 3, 3]),
    case("convT-huge-output", "ConvTranspose", [rand(1, 2, 2, 2), rand(2, 1, 2, 2)],
         output_shape=[1 << 30, 1 << 30]),
    case("convint-zp-shape", "ConvInteger", [q(1, 3, 5, 5), q(2, 3, 3, 3), q(2)], opset=10),
    case("qlinearconv-scale-shape", "QLinearConv",
         [q(1, 3, 5, 5), scalar(0.1), scalar(1, np.uint8), q(2, 3, 3, 3), rand(3) ** 2,
          scalar(1, np.uint8), scalar(0.2), scalar(1, np.uint8)], opset=10),
    case("deform-offset-shape", "DeformConv",
         [rand(1, 2, 5, 5), rand(2, 2, 3, 3), rand(1, 17, 3, 3)], opset=19),
    case("deform-offset-group", "DeformConv",
         [rand(1, 3, 5, 5), rand(2, 3, 3, 3), rand(1, 36, 3, 3)], opset=19, offset_group=2),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, oracle):
    model = make_model(op, inputs, attrs, opset)
    with pytest.raises(OnyxError, match=op):
        run_ours(model, inputs)
