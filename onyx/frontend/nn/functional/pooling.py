"""Pooling: ``max_pool*`` (ONNX MaxPool), ``avg_pool*`` (AveragePool) and
``adaptive_avg_pool*`` (AveragePool when the windows tile the input evenly, otherwise a MatMul
with a constant averaging matrix per spatial dim, which is exact for torch's uneven windows).
"""

from __future__ import annotations

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import batched, ntuple, unbatched
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _window(kernel_size, stride, padding, dilation, nd: int) -> tuple[list[int], ...]:
    kernel = ntuple(kernel_size, nd, "kernel_size")
    strides = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else ntuple(stride, nd, "stride")
    pads = ntuple(padding, nd, "padding")
    dilations = ntuple(dilation, nd, "dilation")
    for p, k, d in zip(pads, kernel, dilations):
        if p < 0 or p > ((k - 1) * d + 1) // 2:
            raise OnyxError(f"pad should be at most half of effective kernel size, but got "
                            f"pad={p}, kernel_size={k} and dilation={d}")
    return kernel, strides, pads, dilations


def max_pool(input: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool,
             return_indices: bool, nd: int):
    x, added = batched(input, nd, f"max_pool{nd}d")
    kernel, strides, pads, dilations = _window(kernel_size, stride, padding, dilation, nd)
    attrs = dict(kernel_shape=kernel, strides=strides, pads=pads + pads, dilations=dilations,
                 ceil_mode=int(bool(ceil_mode)))
    if not return_indices:
        return unbatched(apply("MaxPool", x, **attrs), added)
    out, flat = apply("MaxPool", x, num_outputs=2, **attrs)
    # ONNX numbers elements across the whole tensor, torch within each (n, c) plane
    n, c, plane = x.shape[0], x.shape[1], int(np.prod(x.shape[2:], dtype=np.int64))
    offsets = (np.arange(n * c, dtype=np.int64) * plane).reshape([n, c] + [1] * nd)
    indices = apply("Sub", flat, Tensor._wrap(offsets))
    return unbatched(out, added), unbatched(indices, added)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3)


def avg_pool(input: Tensor, kernel_size, stride, padding, ceil_mode: bool,
             count_include_pad: bool, divisor_override, nd: int) -> Tensor:
    x, added = batched(input, nd, f"avg_pool{nd}d")
    kernel, strides, pads, _ = _window(kernel_size, stride, padding, 1, nd)
    attrs = dict(kernel_shape=kernel, strides=strides, pads=pads + pads,
                 ceil_mode=int(bool(ceil_mode)))
    if divisor_override is None:
        out = apply("AveragePool", x, count_include_pad=int(bool(count_include_pad)), **attrs)
        return unbatched(out, added)
    if divisor_override == 0:
        raise OnyxError("divisor must be not zero")
    # window sums = mean over the in-bounds elements * their count; then the given divisor
    mean = apply("AveragePool", x, count_include_pad=0, **attrs)
    counts = _in_bounds_counts(list(x.shape[2:]), list(mean.shape[2:]), kernel, strides, pads)
    scale = Tensor._wrap((counts / divisor_override).astype(x._data.dtype))
    return unbatched(apply("Mul", mean, scale), added)


def _in_bounds_counts(sizes, outs, kernel, strides, pads) -> np.ndarray:
    """How many input (not padding) elements each pooling window covers."""
    total = np.ones((), np.float64)
    for size, out, k, s, p in zip(sizes, outs, kernel, strides, pads):
        start = np.arange(out) * s - p
        count = np.minimum(start + k, size) - np.maximum(start, 0)
        total = np.multiply.outer(total, count)
    return total


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    return avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    return avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, 2)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    return avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, 3)


def adaptive_avg_pool(input: Tensor, output_size, nd: int) -> Tensor:
    x, added = batched(input, nd, f"adaptive_avg_pool{nd}d")
    sizes = list(x.shape[2:])
    wanted = [output_size] * nd if isinstance(output_size, int | None) else list(output_size)
    if len(wanted) != nd:
        raise OnyxError(f"adaptive_avg_pool{nd}d: output_size must be {nd} ints, got "
                        f"{output_size}")
    outs = [s if o is None else int(o) for s, o in zip(sizes, wanted)]
    if any(o <= 0 for o in outs) and x.numel():
        raise OnyxError(f"adaptive_avg_pool{nd}d: output_size must be positive, got {outs}")
    if all(o == 1 for o in outs):
        out = apply("GlobalAveragePool", x)
    elif all(s % o == 0 for s, o in zip(sizes, outs)):
        k = [s // o for s, o in zip(sizes, outs)]
        out = apply("AveragePool", x, kernel_shape=k, strides=k)
    else:
        out = x
        for axis, (s, o) in enumerate(zip(sizes, outs)):
            out = _average_along(out, 2 + axis, s, o)
    return unbatched(out, added)


def _average_along(x: Tensor, axis: int, size: int, out: int) -> Tensor:
    """Adaptive averaging along ``axis``: windows [floor(i*s/o), ceil((i+1)*s/o))."""
    weights = np.zeros((size, out), dtype=x._data.dtype)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        weights[start:end, i] = 1.0 / (end - start)
    last = x.ndim - 1
    moved = x if axis == last else x.transpose(axis, last)
    pooled = apply("MatMul", moved, Tensor._wrap(weights))
    return pooled if axis == last else pooled.transpose(axis, last)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    return adaptive_avg_pool(input, output_size, 1)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    return adaptive_avg_pool(input, output_size, 2)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    return adaptive_avg_pool(input, output_size, 3)


def adaptive_max_pool(input: Tensor, output_size, return_indices: bool, nd: int):
    """Max over torch's adaptive windows: each window's elements are gathered from the
    flattened plane (short windows repeat their last element, which leaves the max and its
    first position unchanged), then ReduceMax / ArgMax over the window."""
    x, added = batched(input, nd, f"adaptive_max_pool{nd}d")
    sizes = list(x.shape[2:])
    wanted = [output_size] * nd if isinstance(output_size, int | None) else list(output_size)
    outs = [s if o is None else int(o) for s, o in zip(sizes, wanted)]
    if any(o <= 0 for o in outs) or any(s == 0 for s in sizes):
        raise OnyxError(f"adaptive_max_pool{nd}d: output_size {outs} and input spatial size "
                        f"{sizes} must be positive")
    table = _window_table(sizes, outs)  # (prod(outs), window) flat plane positions
    n, c = x.shape[0], x.shape[1]
    flat = apply("Reshape", x, Tensor._wrap(np.asarray([n, c, -1], np.int64)))
    picked = apply("Gather", flat, Tensor._wrap(table), axis=2)  # (N, C, out, window)
    axis = Tensor._wrap(np.asarray([3], np.int64))
    out_shape = Tensor._wrap(np.asarray([n, c] + outs, np.int64))
    out = apply("Reshape", apply("ReduceMax", picked, axis, keepdims=0), out_shape)
    if not return_indices:
        return unbatched(out, added)
    best = apply("ArgMax", picked, axis=3, keepdims=1)
    rows = Tensor._wrap(np.broadcast_to(table, (n, c) + table.shape).copy())
    indices = apply("Reshape", apply("GatherElements", rows, best, axis=3), out_shape)
    return unbatched(out, added), unbatched(indices, added)


def _window_table(sizes: list[int], outs: list[int]) -> np.ndarray:
    per_dim = []
    for size, out in zip(sizes, outs):
        starts = np.array([(i * size) // out for i in range(out)])
        ends = np.array([-((-(i + 1) * size) // out) for i in range(out)])
        width = int((ends - starts).max())
        idx = np.minimum(starts[:, None] + np.arange(width)[None, :], ends[:, None] - 1)
        per_dim.append(idx)  # (out, width)
    # combine dims: positions in the row-major flattened plane, windows in row-major order
    strides = np.cumprod([1] + sizes[::-1])[:-1][::-1]
    table = np.zeros((1, 1), np.int64)
    for idx, stride in zip(per_dim, strides):
        table = (table[:, None, :, None] + (idx * stride)[None, :, None, :]).reshape(
            table.shape[0] * idx.shape[0], table.shape[1] * idx.shape[1])
    return table.astype(np.int64)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    return adaptive_max_pool(input, output_size, return_indices, 1)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    return adaptive_max_pool(input, output_size, return_indices, 2)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    return adaptive_max_pool(input, output_size, return_indices, 3)
