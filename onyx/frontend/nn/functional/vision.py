"""``pad`` (ONNX Pad), ``interpolate`` (ONNX Resize), ``pixel_shuffle``/``pixel_unshuffle``,
``unfold`` (a one-hot grouped Conv) and ``fold`` (ONNX Col2Im).

``interpolate`` picks Resize's coordinate mode that reproduces torch's sampling: nearest is
``asymmetric`` + ``floor``, nearest-exact is ``half_pixel`` + ``round_prefer_ceil``, the linear
modes are ``half_pixel`` (or ``align_corners``), bicubic adds torch's ``a = -0.75``.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import ints, ntuple, scalar
from onyx.frontend.nn.functional.pooling import adaptive_avg_pool
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (last_begin, last_end, prev_begin, ...)``."""
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise OnyxError(f"Padding length must be divisible by 2 and at most twice the number "
                        f"of dims of the input ({input.ndim}), got {len(pad)}")
    if mode not in _PAD_MODES:
        raise OnyxError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and value:
        raise OnyxError(f"Padding mode \"{mode}\" doesn't take in value argument")
    begins, ends = [0] * input.ndim, [0] * input.ndim
    for j in range(len(pad) // 2):
        begins[input.ndim - 1 - j], ends[input.ndim - 1 - j] = pad[2 * j], pad[2 * j + 1]
    if mode == "constant":
        fill = scalar(0 if value is None else value, input)
        return apply("Pad", input, ints(begins + ends), fill, mode="constant")
    if min(pad) < 0:
        raise OnyxError(f"negative padding is only supported in constant mode, not {mode!r}")
    if mode == "reflect":
        for d, (b, e) in enumerate(zip(begins, ends)):
            if max(b, e) >= input.shape[d] and max(b, e) > 0:
                raise OnyxError(f"Argument #4: Padding size should be less than the "
                                f"corresponding input dimension, but got: padding ({b}, {e}) "
                                f"at dimension {d} of input {list(input.shape)}")
    return apply("Pad", input, ints(begins + ends), mode=_PAD_MODES[mode])


_LINEAR = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims (all dims after N, C) to ``size`` or by ``scale_factor``."""
    nd = input.ndim - 2
    if nd < 1:
        raise OnyxError(f"interpolate: expected a 3D, 4D or 5D input, got {list(input.shape)}")
    if mode in _LINEAR and _LINEAR[mode] != nd:
        raise OnyxError(f"Got {input.ndim}D input, but {mode} mode needs {_LINEAR[mode] + 2}D "
                        f"input")
    if mode not in _LINEAR and align_corners is not None:
        raise OnyxError("align_corners option can only be set with the interpolating modes: "
                        "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise OnyxError("interpolate: antialias=True is not supported")
    spatial = list(input.shape[2:])
    out_size, scales = _target(spatial, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return adaptive_avg_pool(input, out_size, nd)
    attrs = _resize_attrs(mode, bool(align_corners))
    lead = list(input.shape[:2])
    if scales is not None and not align_corners:
        return apply("Resize", input, None, Tensor._wrap(np.asarray([1.0, 1.0] + scales,
                                                                    np.float32)), **attrs)
    return apply("Resize", input, None, None, ints(lead + out_size), **attrs)


def _target(spatial: list[int], size, scale_factor, recompute) -> tuple[list[int], list | None]:
    """Output size, and the scales Resize must map coordinates with (None: from the sizes)."""
    nd = len(spatial)
    if (size is None) == (scale_factor is None):
        raise OnyxError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [int(size)] * nd if isinstance(size, int) else [int(s) for s in size]
        if len(sizes) != nd:
            raise OnyxError(f"Input and output must have the same number of spatial "
                            f"dimensions, but got input with spatial dimensions of {spatial} "
                            f"and output size of {sizes}.")
        return sizes, None
    factors = [float(scale_factor)] * nd if isinstance(scale_factor, int | float) else \
        [float(s) for s in scale_factor]
    if len(factors) != nd:
        raise OnyxError(f"Input and scale_factor must have the same number of spatial "
                        f"dimensions, but got input with spatial dimensions of {spatial} and "
                        f"scale_factor of shape {factors}.")
    sizes = [int(math.floor(s * f)) for s, f in zip(spatial, factors)]
    # torch maps coordinates with the given factor unless asked to recompute it from sizes
    # (align_corners always maps through the sizes)
    return sizes, (None if recompute else factors)


def _resize_attrs(mode: str, align_corners: bool) -> dict:
    if mode == "nearest":
        return dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor")
    if mode == "nearest-exact":
        return dict(mode="nearest", coordinate_transformation_mode="half_pixel",
                    nearest_mode="round_prefer_ceil")
    ctm = "align_corners" if align_corners else "half_pixel"
    if mode == "bicubic":
        return dict(mode="cubic", coordinate_transformation_mode=ctm, cubic_coeff_a=-0.75)
    if mode in _LINEAR:
        return dict(mode="linear", coordinate_transformation_mode=ctm)
    raise OnyxError(f"interpolate: mode {mode!r} is not supported; use nearest, "
                    f"nearest-exact, linear, bilinear, bicubic, trilinear or area")


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r)."""
    r = int(upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise OnyxError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                        f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                        f"is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W)."""
    r = int(downscale_factor)
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise OnyxError(f"pixel_unshuffle expects height and width to be divisible by "
                        f"downscale_factor, got {h}x{w} and {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks as columns: (N, C, H, W) -> (N, C * kh * kw, L).

    A grouped Conv with one-hot kernels: output channel ``c * K + k`` copies element ``k`` of
    each block of channel ``c``, which is torch's column order.
    """
    x, added = _batched_image(input, "unfold")
    kh, kw = ntuple(kernel_size, 2, "kernel_size")
    c, k = x.shape[1], kh * kw
    picks = np.zeros((c * k, 1, kh, kw), dtype=x._data.dtype)
    for ch in range(c):
        picks[ch * k + np.arange(k), 0, np.arange(k) // kw, np.arange(k) % kw] = 1
    pads = ntuple(padding, 2, "padding")
    cols = apply("Conv", x, Tensor._wrap(picks), strides=ntuple(stride, 2, "stride"),
                 pads=pads + pads, dilations=ntuple(dilation, 2, "dilation"), group=c,
                 kernel_shape=[kh, kw])
    out = apply("Reshape", cols, ints([x.shape[0], c * k, -1]))
    return apply("Squeeze", out, ints([0])) if added else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Columns back to an image, summing overlaps (ONNX Col2Im): the adjoint of ``unfold``."""
    x = input if input.ndim == 3 else apply("Unsqueeze", input, ints([0]))
    if x.ndim != 3:
        raise OnyxError(f"fold: expected 2D or 3D input, got {list(input.shape)}")
    pads = ntuple(padding, 2, "padding")
    out = apply("Col2Im", x, ints(ntuple(output_size, 2, "output_size")),
                ints(ntuple(kernel_size, 2, "kernel_size")),
                dilations=ntuple(dilation, 2, "dilation"), pads=pads + pads,
                strides=ntuple(stride, 2, "stride"))
    return out if input.ndim == 3 else apply("Squeeze", out, ints([0]))


def _batched_image(input: Tensor, name: str) -> tuple[Tensor, bool]:
    if input.ndim == 4:
        return input, False
    if input.ndim == 3:
        return apply("Unsqueeze", input, ints([0])), True
    raise OnyxError(f"{name}: expected 3D or 4D input, got {list(input.shape)}")
