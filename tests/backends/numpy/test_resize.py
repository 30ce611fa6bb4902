"""Resize, Upsample, GridSample, AffineGrid and ImageDecoder against onnxruntime.

Each table row is one single-node model: op, inputs, attributes, opset. It runs through
``onyx.backend`` and through onnxruntime, or ``onnx.reference`` where a row says so: for
integer inputs and for ``align_corners``/``tf_crop_and_resize`` with fractional scales,
onnxruntime uses the rounded output length where the ONNX test data (and onyx) use
``scale * length``. Bad inputs must raise an ``OnyxError`` naming the op.
"""

from __future__ import annotations

import builtins
import io

import numpy as np
import pytest

import onyx.backend
from onyx.backends.numpy.kernels import resize as resize_kernels
from onyx.ir.errors import LimitError, OnyxError, UnsupportedOpError
from onyx.testing import run_oracle
from onyx.testing import single_node_model as make_model

rng = np.random.default_rng(2)


def rand(*shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 100, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def f32(*values):
    return np.array(values, dtype=np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


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


def case(name, op, inputs, opset=19, oracle="ort", **attrs):
    return pytest.param(op, inputs, attrs, opset, oracle, id=name)


# Scales chosen away from the exact .5 ties where float32 and float64 arithmetic disagree.
SCALES = {"down": f32(1, 1, 0.6, 0.45), "up": f32(1, 1, 1.75, 2.5), "mixed": f32(1, 1, 3, 0.5)}


def _resize_cases():
    x = rand(2, 3, 7, 9)
    roi = f32(0, 0, 0.1, 0.2, 1, 1, 0.8, 0.95)
    modes = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
             "tf_crop_and_resize", "half_pixel_symmetric")
    for mode in ("nearest", "linear", "cubic"):
        for ct in modes:
            crop = ct == "tf_crop_and_resize"
            for tag, sc in SCALES.items():
                oracle = "ref" if ct in ("align_corners", "tf_crop_and_resize") else "ort"
                if (ct, mode, tag) == ("half_pixel_symmetric", "nearest", "down"):
                    # onnxruntime's float32 offset lands exactly on a .5 tie here; elsewhere
                    # onnx.reference is the one off (it picks the wrong neighbour when its
                    # float32 coordinate falls just below a whole pixel).
                    oracle = "ref"
                yield case(f"{mode}-{ct}-{tag}", "Resize", [x, roi if crop else None, sc],
                           mode=mode, coordinate_transformation_mode=ct, oracle=oracle)
            yield case(f"{mode}-{ct}-sizes", "Resize",
                       [x, roi if crop else None, None, i64(2, 3, 4, 13)], mode=mode,
                       coordinate_transformation_mode=ct)
        if mode != "nearest":
            for aa in (0, 1):
                for tag, sc in (("down", f32(1, 1, 0.4, 0.3)), ("tiny", f32(1, 1, 0.05, 0.5))):
                    yield case(f"{mode}-antialias{aa}-{tag}", "Resize", [rand(1, 2, 40, 9),
                                                                        None, sc],
                               mode=mode, antialias=aa, oracle="ref")
    yield case("cubic-exclude-outside", "Resize", [x, None, SCALES["up"]], mode="cubic",
               exclude_outside=1, cubic_coeff_a=-0.5)
    yield case("cubic-exclude-outside-aa", "Resize", [x, None, SCALES["down"]], mode="cubic",
               exclude_outside=1, antialias=1, oracle="ref")
    for nm in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
        yield case(f"nearest-{nm}", "Resize", [x, None, f32(1, 1, 1.3, 0.7)], opset=13,
                   nearest_mode=nm, coordinate_transformation_mode="asymmetric")
        for policy in ("not_larger", "not_smaller"):
            yield case(f"nearest-{nm}-{policy}", "Resize", [x, None, None, i64(9, 5)],
                       opset=18, nearest_mode=nm, axes=[3, 2], keep_aspect_ratio_policy=policy)
    for mode in ("nearest", "linear", "cubic"):
        yield case(f"crop-extrapolate-{mode}", "Resize",
                   [x, f32(-0.2, 0.3, 1.1, 0.9), None, i64(5, 8)], opset=18, mode=mode,
                   axes=[2, 3], coordinate_transformation_mode="tf_crop_and_resize",
                   extrapolation_value=3.5)
        yield case(f"u8-{mode}", "Resize", [rand(1, 2, 5, 6, dtype=np.uint8), None,
                                            f32(1, 1, 1.7, 0.6)], mode=mode, oracle="ref")
    empty = np.zeros(0, np.float32)
    yield case("v11-scales", "Resize", [x, empty, f32(1, 1, 2, 0.5)], opset=11, mode="linear")
    yield case("v11-sizes", "Resize", [x, empty, empty, i64(2, 3, 5, 4)], opset=11,
               mode="cubic")
    yield case("v11-tf-half-pixel-for-nn", "Resize", [x, empty, f32(1, 1, 2, 0.5)], opset=11,
               coordinate_transformation_mode="tf_half_pixel_for_nn")
    yield case("v13-f16", "Resize", [x.astype(np.float16), None, f32(1, 1, 1.75, 0.6)],
               opset=13, mode="linear")
    yield case("v18-axes-scales", "Resize", [x, None, f32(2.5, 0.5)], opset=18, axes=[3, 2],
               mode="linear")
    yield case("v19-5d", "Resize", [rand(1, 2, 3, 4, 5), None, f32(1, 1, 2, 0.5, 1.5)],
               mode="linear")
    for mode in ("nearest", "linear"):
        for sc in (f32(1, 1, 2, 3), f32(1, 1, 0.6, 0.5), f32(1, 1, 1.5, 2.5)):
            yield case(f"v10-{mode}-{sc[2]}", "Resize", [x, sc], opset=10, mode=mode)
            if sc.min() >= 1:
                yield case(f"upsample9-{mode}-{sc[2]}", "Upsample", [x, sc], opset=9,
                           mode=mode)
                yield case(f"upsample7-{mode}-{sc[2]}", "Upsample", [x], opset=7, mode=mode,
                           scales=[float(v) for v in sc])


def _sampling_cases():
    x = rand(2, 3, 5, 6)
    grid = (rng.random((2, 4, 7, 2)) * 2.6 - 1.3).astype(np.float32)
    x3, g3 = rand(1, 2, 4, 5, 3), (rng.random((1, 3, 2, 4, 3)) * 2.6 - 1.3).astype(np.float32)
    for pad in ("zeros", "border", "reflection"):
        for ac in (0, 1):
            for mode, v16 in (("linear", "bilinear"), ("nearest", "nearest"),
                              ("cubic", "bicubic")):
                yield case(f"grid-{mode}-{pad}-ac{ac}", "GridSample", [x, grid], opset=20,
                           mode=mode, padding_mode=pad, align_corners=ac)
                yield case(f"grid16-{mode}-{pad}-ac{ac}", "GridSample", [x, grid], opset=16,
                           mode=v16, padding_mode=pad, align_corners=ac)
                if mode != "cubic":
                    yield case(f"grid3d-{mode}-{pad}-ac{ac}", "GridSample", [x3, g3],
                               opset=22, mode=mode, padding_mode=pad, align_corners=ac)
    yield case("grid-f64", "GridSample", [x.astype(np.float64), grid.astype(np.float64)],
               opset=20)
    yield case("grid-1d", "GridSample", [rand(2, 3, 6), grid[:, 0, :5, :1]], opset=20,
               padding_mode="reflection", oracle="ref")
    yield case("grid-int-nearest", "GridSample", [rand(2, 3, 5, 6, dtype=np.int32), grid],
               opset=20, mode="nearest", oracle="ref")
    for ac in (0, 1):
        for size in ((2, 3, 4, 5), (2, 1, 3, 4, 5)):
            theta = rand(2, len(size) - 2, len(size) - 1)
            yield case(f"affine-{len(size)}d-ac{ac}", "AffineGrid", [theta, i64(*size)],
                       opset=20, align_corners=ac)


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle",
                         list(_resize_cases()) + list(_sampling_cases()))
def test_against_oracle(op, inputs, attrs, opset, oracle):
    model = make_model(op, inputs, attrs, opset)
    ours = run_ours(model, inputs)
    ref = run_oracle(model, inputs, oracle)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert_same(a, b)


def test_nearest_resize_of_strings():
    """Nearest needs no arithmetic, so it works on strings: same picks as on numbers."""
    codes = np.arange(6, dtype=np.float32).reshape(2, 3)
    words = np.array([f"w{i}" for i in range(6)], dtype=object).reshape(2, 3)
    scales = f32(2, 1.5)
    (want,) = run_oracle(make_model("Resize", [codes, None, scales], {}, 19),
                         [codes, None, scales], "ort")
    (got,) = run_ours(make_model("Resize", [words, None, scales], {}, 19), [words, None, scales])
    assert got.dtype == object
    np.testing.assert_array_equal(got, words.reshape(-1)[want.astype(int)])


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_opset1_matches_opset9(mode):
    x = rand(2, 3, 4, 5)
    (got,) = run_ours(make_model("Upsample", [x], dict(mode=mode, height_scale=2.0,
                                                       width_scale=3.0), 1), [x])
    inputs = [x, f32(1, 1, 2, 3)]
    model = make_model("Upsample", inputs, {"mode": "linear" if mode == "bilinear" else mode}, 9)
    assert_same(got, run_oracle(model, inputs, "ort")[0])


def test_wide_filters_match_the_tap_loop(monkeypatch):
    """Wide antialias filters are applied as a dense matrix; the per-tap loop agrees."""
    x = rand(2, 3, 60, 50)
    inputs = [x, None, f32(1, 1, 0.05, 0.3)]
    for mode in ("linear", "cubic"):
        model = make_model("Resize", inputs, {"mode": mode, "antialias": 1}, 19)
        (want,) = run_ours(model, inputs)
        monkeypatch.setattr(resize_kernels, "_MANY_TAPS", 10**9)
        (got,) = run_ours(model, inputs)
        monkeypatch.undo()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_resize_size_from_scales_is_bounded():
    x = rand(1, 1, 4, 4)
    inputs = [x, None, f32(1, 1, 1e9, 1e9)]
    with pytest.raises(LimitError, match="Resize"):
        run_ours(make_model("Resize", inputs, {}, 19), inputs)


def _encode(fmt: str, mode: str = "RGB") -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image
    pixels = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buf, format=fmt)
    data = np.frombuffer(buf.getvalue(), dtype=np.uint8)
    return data, np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "JPEG", "TIFF", "WEBP", "PPM"])
@pytest.mark.parametrize("pixel_format", ["RGB", "BGR", "Grayscale"])
def test_image_decoder(fmt, pixel_format):
    pytest.importorskip("PIL")
    from PIL import Image
    data, rgb = _encode(fmt)
    model = make_model("ImageDecoder", [data], {"pixel_format": pixel_format}, 20)
    (y,) = run_ours(model, [data])
    assert y.dtype == np.uint8
    if pixel_format == "Grayscale":
        gray = np.asarray(Image.open(io.BytesIO(data.tobytes())).convert("L"))
        np.testing.assert_array_equal(y, gray[:, :, None])
    else:
        np.testing.assert_array_equal(y, rgb if pixel_format == "RGB" else rgb[:, :, ::-1])


def test_image_decoder_palette_and_garbage():
    pytest.importorskip("PIL")
    data, rgb = _encode("PNG", mode="P")
    (y,) = run_ours(make_model("ImageDecoder", [data], {}, 20), [data])
    np.testing.assert_array_equal(y, rgb)
    junk = np.frombuffer(b"not an image at all", dtype=np.uint8)
    (y,) = run_ours(make_model("ImageDecoder", [junk], {}, 20), [junk])
    assert y.shape == (0, 0, 3) and y.dtype == np.uint8


def test_image_decoder_without_pillow(monkeypatch):
    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    data = np.zeros(4, np.uint8)
    with pytest.raises(UnsupportedOpError, match="ImageDecoder.*Pillow"):
        run_ours(make_model("ImageDecoder", [data], {}, 20), [data])


BAD = [
    case("resize-both-inputs", "Resize", [rand(1, 1, 2, 2), None, f32(1, 1, 2, 2),
                                          i64(1, 1, 4, 4)]),
    case("resize-neither-input", "Resize", [rand(1, 1, 2, 2)]),
    case("resize-scales-length", "Resize", [rand(1, 1, 2, 2), None, f32(2, 2)]),
    case("resize-negative-scale", "Resize", [rand(1, 1, 2, 2), None, f32(1, 1, -2, 2)]),
    case("resize-nan-scale", "Resize", [rand(1, 1, 2, 2), None, f32(1, 1, np.nan, 2)]),
    case("resize-negative-size", "Resize", [rand(1, 1, 2, 2), None, None, i64(1, 1, -4, 4)]),
    case("resize-bad-mode", "Resize", [rand(1, 1, 2, 2), None, f32(1, 1, 2, 2)],
         mode="area"),
    case("resize-bad-coordinate-mode", "Resize", [rand(1, 1, 2, 2), None, f32(1, 1, 2, 2)],
         coordinate_transformation_mode="centre"),
    case("resize-bad-axes", "Resize", [rand(1, 1, 2, 2), None, f32(2, 2)], opset=18,
         axes=[2, 5]),
    case("resize-bad-roi", "Resize", [rand(1, 1, 2, 2), f32(0, 1), None, i64(1, 1, 3, 3)],
         coordinate_transformation_mode="tf_crop_and_resize"),
    case("upsample-bad-mode", "Upsample", [rand(1, 1, 2, 2), f32(1, 1, 2, 2)], opset=9,
         mode="cubic"),
    case("grid-shape", "GridSample", [rand(1, 1, 4, 4), rand(1, 3, 3, 3)], opset=20),
    case("grid-padding", "GridSample", [rand(1, 1, 4, 4), rand(1, 3, 3, 2)], opset=20,
         padding_mode="wrap"),
    case("grid16-5d", "GridSample", [rand(1, 1, 2, 4, 4), rand(1, 2, 3, 3, 3)], opset=16),
    case("affine-theta-shape", "AffineGrid", [rand(2, 2, 3), i64(2, 1, 4, 5, 6)], opset=20),
    case("affine-huge", "AffineGrid", [rand(1, 2, 3), i64(1, 1, 1 << 30, 1 << 30)], opset=20),
    case("image-bad-format", "ImageDecoder", [np.zeros(3, np.uint8)], opset=20,
         pixel_format="CMYK"),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,oracle", BAD)
def test_bad_input_raises(op, inputs, attrs, opset, oracle):
    model = make_model(op, inputs, attrs, opset)
    with pytest.raises(OnyxError, match=op):
        run_ours(model, inputs)
