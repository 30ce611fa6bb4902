"""VJP rules of resampling: Resize, Upsample and AffineGrid.

Resize is linear in X and separable: along each resized axis the output is ``M @ x`` for an
(out, in) interpolation matrix M. The rule gets M by resizing an identity matrix with the same
mode and settings (so every coordinate mode, cubic coefficient, antialias filter and nearest
rounding rule is the kernel's own) and applies ``M^T`` to the cotangent, one axis at a time.
"""

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import (
    arg,
    const_ints,
    ints,
    normalize_axis,
    rank,
    require_static,
)
from onyx.ir.errors import OnyxError

_MODE_ATTRS = ("mode", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
               "nearest_mode", "antialias")
# coordinate modes that are the identity at scale 1 (tf_half_pixel_for_nn shifts by half a pixel)
_IDENTITY_AT_ONE = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                    "asymmetric")


def _float_values(b, v) -> list[float] | None:
    if v is None:
        return None
    values = np.asarray(b.constant_value(v), dtype=np.float64).reshape(-1)
    return [float(s) for s in values] if values.size else None


def _axis_specs(b, node, x_shape, out_shape):
    """(axis, resize inputs for the 2-D identity probe) per resized axis."""
    r = len(x_shape)
    axes = node.attr("axes")
    axes = list(range(r)) if axes is None else [normalize_axis(a, r) for a in axes]
    scales = _float_values(b, arg(node, 2))
    sizes = const_ints(b, arg(node, 3), "Resize", "sizes")
    roi = _float_values(b, arg(node, 1))
    coord = node.attr("coordinate_transformation_mode", "half_pixel")
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    specs = []
    for k, a in enumerate(axes):
        n, out = x_shape[a], out_shape[a]
        crop = coord == "tf_crop_and_resize" and roi is not None
        unit = scales[k] == 1.0 if scales is not None else sizes[k] == n
        if unit and out == n and not crop and coord in _IDENTITY_AT_ONE:
            continue
        if not isinstance(n, int | np.integer) or not isinstance(out, int | np.integer):
            raise OnyxError(f"gradient of Resize: resized axis {a} needs a static size, got "
                            f"{n} -> {out}")
        region = [roi[k], 0.0, roi[k + len(axes)], 1.0] if crop else None
        if scales is not None:
            how = ("scales", [scales[k], 1.0])
        else:
            if policy != "stretch" and out * n != 0 and \
                    abs(out / n - _common_ratio(sizes, axes, x_shape, policy)) > 1e-12:
                raise OnyxError(f"gradient of Resize: sizes {sizes} with keep_aspect_ratio_policy "
                                f"{policy!r} round axis {a} to {out}, off the common scale; "
                                f"this case is not supported")
            how = ("sizes", [out, n])
        specs.append((a, region, how))
    return specs


def _common_ratio(sizes, axes, shape, policy) -> float:
    ratios = [s / shape[a] for s, a in zip(sizes, axes)]
    return min(ratios) if policy == "not_larger" else max(ratios)


def _apply_transpose(b, g, matrix, axis: int, r: int):
    """Contract g's ``axis`` (of out entries) with matrix (out, in): g's axis becomes in."""
    perm = [i for i in range(r) if i != axis] + [axis]
    moved = b.MatMul(b.Transpose(g, perm=perm), matrix)
    return b.Transpose(moved, perm=[int(i) for i in np.argsort(perm)])


def _resize_back(b, g, x, specs, attrs: dict):
    r, shape = rank(b, x), b.shape(x)
    for a, region, (kind, values) in specs:
        if not isinstance(shape[a], int | np.integer):
            raise OnyxError(f"gradient of Resize: resized axis {a} needs a static size, got "
                            f"{list(shape)}")
        eye = b.const(np.eye(int(shape[a])), like=g)
        roi = None if region is None else b.const(region, dtype=np.float32)
        if kind == "scales":
            m = b.Resize(eye, roi, b.const(values, dtype=np.float32), **attrs)
        else:
            m = b.Resize(eye, roi, None, ints(b, values), **attrs)
        g = _apply_transpose(b, g, m, a, r)
    return g


@vjp("Resize", uses_inputs=(1, 2, 3))
def _(b, node, g):
    x = node.inputs[0]
    specs = _axis_specs(b, node, tuple(b.shape(x)), tuple(b.shape(node.outputs[0])))
    attrs = {k: node.attr(k) for k in _MODE_ATTRS if node.attr(k) is not None}
    # values read from outside the input are a constant: no gradient
    attrs["extrapolation_value"] = 0.0
    return [_resize_back(b, g, x, specs, attrs), None, None, None]


@vjp("Upsample", uses_inputs=(1,))
def _(b, node, g):
    x = node.inputs[0]
    scales = _float_values(b, arg(node, 1)) or list(node.attr("scales"))
    mode = {"bilinear": "linear"}.get(node.attr("mode", "nearest"), node.attr("mode", "nearest"))
    specs = [(a, None, ("scales", [s, 1.0])) for a, s in enumerate(scales) if s != 1.0]
    # Upsample maps output i to input i / scale (asymmetric) and rounds down for nearest
    attrs = {"mode": mode, "coordinate_transformation_mode": "asymmetric",
             "nearest_mode": "floor"}
    return [_resize_back(b, g, x, specs, attrs), None]


@vjp("AffineGrid", uses_inputs=(1,))
def _(b, node, g):
    theta, size = node.inputs
    r = require_static(b, theta, "AffineGrid", "theta", only=[1])[1]
    # grid[n, p] = theta[n] @ base[p] with base = (x, y[, z], 1): the base points are the
    # grid of the identity transform, with a 1 appended
    identity = b.Expand(b.const(np.eye(r, r + 1)[None], like=theta), b.Shape(theta))
    base = b.AffineGrid(identity, size, align_corners=node.attr("align_corners", 0))
    base = b.Reshape(base, ints(b, [0, -1, r]))
    ones = b.Expand(b.const(1.0, like=theta), b.Shape(b.Slice(base, ints(b, [0]), ints(b, [1]),
                                                               ints(b, [2]))))
    base = b.Concat(base, ones, axis=2)
    gflat = b.Transpose(b.Reshape(g, ints(b, [0, -1, r])), perm=[0, 2, 1])
    return [b.MatMul(gflat, base), None]
