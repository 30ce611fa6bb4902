"""Pooling, RoI pooling and NonMaxSuppression against onnxruntime.

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime (``onnx.reference`` where a row says so) and the
outputs must match in dtype, shape and value. Bad inputs must raise an ``OnyxError`` naming
the op.
"""

from __future__ import annotations

import numpy as np
import pytest

import onyx.backend
from onyx.backends.numpy.kernels import pool as pool_kernels
from onyx.ir.errors import OnyxError
from onyx.testing import run_oracle
from onyx.testing import single_node_model as make_model

rng = np.random.default_rng(1)


def rand(*shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


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


def case(name, op, inputs, opset=22, n_out=1, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, n_out, oracle, id=name)


def _window_cases():
    for dims, spatial in ((1, (11,)), (2, (9, 8)), (3, (7, 6, 5))):
        x = rand(2, 3, *spatial)
        for k, s, d in ((2, 1, 1), (3, 2, 1), (3, 2, 2), (2, 3, 1)):
            attrs = dict(kernel_shape=[k] * dims, strides=[s] * dims, pads=[1] * dims + [
                k - 1] * dims)
            if d > 1:
                attrs["dilations"] = [d] * dims
            tag = f"{dims}d-k{k}s{s}d{d}"
            for ceil in (0, 1):
                yield case(f"max-{tag}-ceil{ceil}", "MaxPool", [x], opset=12, ceil_mode=ceil,
                           **attrs)
                yield case(f"max-idx-{tag}-ceil{ceil}", "MaxPool", [x], opset=12, n_out=2,
                           ceil_mode=ceil, **attrs)
                for cip in (0, 1):
                    yield case(f"avg-{tag}-ceil{ceil}-cip{cip}", "AveragePool", [x], opset=19,
                               ceil_mode=ceil, count_include_pad=cip, **attrs)
            if d == 1:
                yield case(f"lp-{tag}", "LpPool", [x], opset=18, p=3, **attrs)
        for auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
            attrs = dict(kernel_shape=[3] * dims, strides=[2] * dims, auto_pad=auto_pad)
            yield case(f"max-{dims}d-{auto_pad}", "MaxPool", [x], opset=12, **attrs)
            yield case(f"avg-{dims}d-{auto_pad}", "AveragePool", [x], opset=11, **attrs)
            yield case(f"lp-{dims}d-{auto_pad}", "LpPool", [x], opset=11, **attrs)
    x = rand(2, 3, 6, 5)
    yield case("max-storage-order", "MaxPool", [x], opset=12, n_out=2, kernel_shape=[2, 3],
               strides=[2, 1], storage_order=1)
    yield case("max-storage-order-pads", "MaxPool", [x], opset=12, n_out=2,
               kernel_shape=[3, 3], pads=[1, 1, 1, 1], storage_order=1)
    for dt in (np.int8, np.uint8, np.float16, np.float64):
        yield case(f"max-{np.dtype(dt)}", "MaxPool", [rand(2, 3, 6, 5, dtype=dt)], opset=12,
                   kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    yield case("avg-f16", "AveragePool", [x.astype(np.float16)], opset=19, kernel_shape=[3, 3],
               pads=[1, 1, 1, 1])
    yield case("max-opset1", "MaxPool", [x], opset=1, kernel_shape=[2, 2], pads=[1, 1, 0, 0])
    yield case("avg-opset1", "AveragePool", [x], opset=1, kernel_shape=[2, 2], oracle="ref")
    yield case("max-big-kernel", "MaxPool", [rand(1, 2, 12, 12)], opset=12,
               kernel_shape=[9, 9], pads=[1, 1, 1, 1])
    yield case("avg-big-kernel", "AveragePool", [rand(1, 2, 12, 12)], opset=19,
               kernel_shape=[9, 9], pads=[1, 1, 1, 1], count_include_pad=1)
    yield case("max-empty-batch", "MaxPool", [rand(0, 3, 6, 5)], opset=12, kernel_shape=[2, 2],
               oracle="ref")
    tiny = rand(1, 2, 2, 2)
    yield case("max-padding-only-windows", "MaxPool", [tiny], opset=12, n_out=2,
               kernel_shape=[2, 2], pads=[2, 2, 2, 2], strides=[2, 2], oracle="ref")
    yield case("avg-padding-only-windows", "AveragePool", [tiny], opset=19,
               kernel_shape=[2, 2], pads=[2, 2, 2, 2], strides=[2, 2], oracle="ref")
    yield case("lp-opset1-float-p", "LpPool", [x], opset=1, kernel_shape=[2, 2], p=3.0,
               oracle="ref")


def _global_cases():
    for shape in ((2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 5)):
        x = rand(*shape)
        yield case(f"gavg-{len(shape)}d", "GlobalAveragePool", [x])
        yield case(f"gmax-{len(shape)}d", "GlobalMaxPool", [x])
        yield case(f"glp-{len(shape)}d", "GlobalLpPool", [x], opset=2, p=3)
    yield case("gavg-f16", "GlobalAveragePool", [rand(2, 3, 4, 4, dtype=np.float16)])
    yield case("gmax-f64", "GlobalMaxPool", [rand(2, 3, 4, 4, dtype=np.float64)], opset=1,
               oracle="ref")


def _roi_cases():
    x = rand(2, 3, 10, 12)
    rois = np.array([[0, 0, 9, 9], [1.5, 2.2, 7.7, 8.1], [-2, -3, 4, 5], [3, 3, 3.5, 3.2],
                     [5, 4, 14, 13], [8, 8, 2, 1]], np.float32)
    batch = np.array([0, 1, 0, 1, 0, 1], np.int64)
    for mode in ("avg", "max"):
        for ctm in ("half_pixel", "output_half_pixel"):
            for sr in (0, 2):
                yield case(f"roialign-{mode}-{ctm}-sr{sr}", "RoiAlign", [x, rois, batch],
                           opset=16, mode=mode, coordinate_transformation_mode=ctm,
                           sampling_ratio=sr, output_height=3, output_width=4,
                           spatial_scale=0.9)
        yield case(f"roialign10-{mode}", "RoiAlign", [x, rois, batch], opset=10, mode=mode,
                   output_height=2, output_width=2)
    yield case("roialign-f64", "RoiAlign", [x.astype(np.float64), rois.astype(np.float64),
                                            batch], opset=16, output_height=2, output_width=3)
    rois5 = np.array([[0, 0, 0, 9, 9], [1, 1.5, 2.2, 7.7, 8.1], [0, -2, -3, 4, 5],
                      [1, 3, 3, 3.5, 3.2], [0, 5, 4, 14, 13]], np.float32)
    yield case("maxroipool", "MaxRoiPool", [x, rois5], opset=1, pooled_shape=[3, 4],
               spatial_scale=0.8)
    yield case("maxroipool-2x2", "MaxRoiPool", [x, rois5], opset=1, pooled_shape=[2, 2])


def _nms_cases():
    for cpb in (0, 1):
        boxes = rng.random((2, 30, 4)).astype(np.float32)
        if cpb:
            boxes[..., 2:] *= 0.4
        scores = rng.random((2, 3, 30)).astype(np.float32)
        for limit, iou, score in ((3, 0.3, None), (100, 0.5, 0.4), (100, 0.0, None),
                                  (0, 0.5, None)):
            inputs = [boxes, scores, np.array([limit], np.int64), np.array([iou], np.float32),
                      None if score is None else np.array([score], np.float32)]
            yield case(f"nms-cpb{cpb}-{limit}-{iou}-{score}", "NonMaxSuppression", inputs,
                       opset=11, center_point_box=cpb)
        yield case(f"nms-cpb{cpb}-defaults", "NonMaxSuppression", [boxes, scores], opset=10,
                   center_point_box=cpb)
    ties = np.tile(np.array([[[0, 0, 1, 1]]], np.float32), (1, 4, 1))
    yield case("nms-equal-scores", "NonMaxSuppression",
               [ties, np.full((1, 1, 4), 0.5, np.float32), np.array([4], np.int64)], opset=11)


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle",
                         list(_window_cases()) + list(_global_cases()) + list(_roi_cases())
                         + list(_nms_cases()))
def test_against_oracle(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    ours = run_ours(model, inputs)
    ref = run_oracle(model, inputs, oracle)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert_same(a, b)


@pytest.mark.parametrize("output_shape", [None, [1, 2, 7, 7]])
def test_max_unpool_inverts_max_pool(output_shape):
    x = np.abs(rand(1, 2, 6, 6)) + 0.1  # positive, so the zeros left by unpooling never win
    attrs = dict(kernel_shape=[2, 2], strides=[2, 2])
    y, idx = run_ours(make_model("MaxPool", [x], attrs, 12, n_out=2), [x])
    inputs = [y, idx] + ([] if output_shape is None else [np.array(output_shape, np.int64)])
    model = make_model("MaxUnpool", inputs, attrs, 11)
    (ours,) = run_ours(model, inputs)
    # The indices address the 6x6 unpooled tensor; a larger output_shape pads at the end
    # (onnx.reference; onnxruntime re-reads the indices in the larger shape instead).
    assert_same(ours, run_oracle(model, inputs, "ref")[0])
    assert_same(run_ours(make_model("MaxPool", [ours], attrs, 12), [ours])[0][..., :3, :3], y)


def test_pools_take_the_same_path_for_small_and_large_kernels(monkeypatch):
    x = rand(2, 3, 9, 8)
    attrs = dict(kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], ceil_mode=1)
    models = [make_model("MaxPool", [x], attrs, 12),
              make_model("AveragePool", [x], dict(attrs, count_include_pad=1), 19)]
    want = [run_ours(m, [x])[0] for m in models]
    monkeypatch.setattr(pool_kernels, "_MANY_TAPS", 1)
    for m, w in zip(models, want):
        np.testing.assert_allclose(run_ours(m, [x])[0], w, rtol=1e-6, atol=1e-6)


BAD = [
    case("max-rank", "MaxPool", [rand(3, 4)], opset=12, kernel_shape=[2]),
    case("max-kernel-rank", "MaxPool", [rand(1, 2, 4, 4)], opset=12, kernel_shape=[2]),
    case("max-no-kernel", "MaxPool", [rand(1, 2, 4, 4)], opset=12),
    case("max-kernel-too-big", "MaxPool", [rand(1, 2, 4, 4)], opset=12, kernel_shape=[5, 5]),
    case("avg-bad-strides", "AveragePool", [rand(1, 2, 4, 4)], opset=19, kernel_shape=[2, 2],
         strides=[0, 1]),
    case("lp-bad-pads", "LpPool", [rand(1, 2, 4, 4)], opset=18, kernel_shape=[2, 2],
         pads=[1, 1, -1, 0]),
    case("gmax-empty", "GlobalMaxPool", [rand(1, 2, 0, 3)]),
    case("unpool-index-range", "MaxUnpool", [rand(1, 1, 2, 2), np.array(
        [[[[0, 1], [2, 99]]]], np.int64)], opset=11, kernel_shape=[2, 2], strides=[2, 2]),
    case("unpool-shape", "MaxUnpool", [rand(1, 1, 2, 2), np.zeros((1, 1, 2, 3), np.int64)],
         opset=11, kernel_shape=[2, 2]),
    case("roialign-batch-index", "RoiAlign", [rand(1, 2, 4, 4), rand(1, 4),
                                              np.array([3], np.int64)], opset=16),
    case("roialign-rois-shape", "RoiAlign", [rand(1, 2, 4, 4), rand(2, 5),
                                             np.zeros(2, np.int64)], opset=16),
    case("roialign-huge-sampling", "RoiAlign", [rand(1, 2, 4, 4), rand(1, 4),
                                                np.zeros(1, np.int64)], opset=16, mode="max",
         sampling_ratio=1 << 20),
    case("maxroipool-batch", "MaxRoiPool", [rand(1, 2, 4, 4), np.array(
        [[2, 0, 0, 1, 1]], np.float32)], opset=1, pooled_shape=[2, 2]),
    case("nms-shapes", "NonMaxSuppression", [rand(1, 5, 4), rand(1, 2, 6)], opset=11),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,n_out,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, n_out, oracle):
    model = make_model(op, inputs, attrs, opset, n_out)
    with pytest.raises(OnyxError, match=op):
        run_ours(model, inputs)
