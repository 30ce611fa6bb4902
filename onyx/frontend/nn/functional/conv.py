"""Convolutions: ``conv1d/2d/3d`` (ONNX Conv) and ``conv_transpose1d/2d/3d`` (ConvTranspose).

torch's weight layouts are ONNX's: (out, in / groups, *kernel) for Conv and
(in, out / groups, *kernel) for ConvTranspose, so weights pass through unchanged. Padding
``'same'`` becomes explicit begin/end pads (the odd one at the end, as torch does).
"""

from __future__ import annotations

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import batched, ntuple, unbatched
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def conv_pads(padding, kernel: list[int], dilation: list[int], stride: list[int],
              nd: int) -> list[int]:
    """ONNX ``pads`` (all begins, then all ends) for torch's ``padding`` argument."""
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * (2 * nd)
        if padding != "same":
            raise OnyxError(f"Invalid padding string {padding!r}, should be one of "
                            f"{{'valid', 'same'}}")
        if any(s != 1 for s in stride):
            raise OnyxError("padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    pads = ntuple(padding, nd, "padding")
    if any(p < 0 for p in pads):
        raise OnyxError("negative padding is not supported")
    return pads + pads


def _check_channels(x: Tensor, weight: Tensor, groups: int, transposed: bool) -> None:
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if x.shape[1] != expected:
        what = "transposed=1" if transposed else f"groups={groups}"
        raise OnyxError(f"Given {what}, weight of size {list(weight.shape)}, expected "
                        f"input{list(x.shape)} to have {expected} channels, but got "
                        f"{x.shape[1]} channels instead")
    if transposed and weight.shape[0] % groups:
        raise OnyxError(f"the input channels ({weight.shape[0]}) must be divisible by "
                        f"groups ({groups})")
    if not transposed and weight.shape[0] % groups:
        raise OnyxError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                        f"at dimension 0, but got weight of size {list(weight.shape)} instead")


def convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride, padding,
                dilation, groups: int, nd: int) -> Tensor:
    """An ``nd``-dimensional convolution (batched or unbatched input)."""
    if weight.ndim != nd + 2:
        raise OnyxError(f"expected a {nd + 2}D weight for conv{nd}d, got {list(weight.shape)}")
    x, added = batched(input, nd, f"conv{nd}d")
    _check_channels(x, weight, groups, transposed=False)
    kernel = list(weight.shape[2:])
    strides, dilations = ntuple(stride, nd, "stride"), ntuple(dilation, nd, "dilation")
    pads = conv_pads(padding, kernel, dilations, strides, nd)
    out = apply("Conv", x, weight, bias, strides=strides, pads=pads, dilations=dilations,
                group=int(groups), kernel_shape=kernel)
    return unbatched(out, added)


def transposed_convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride,
                           padding, output_padding, groups: int, dilation, nd: int) -> Tensor:
    if weight.ndim != nd + 2:
        raise OnyxError(f"expected a {nd + 2}D weight for conv_transpose{nd}d, got "
                        f"{list(weight.shape)}")
    x, added = batched(input, nd, f"conv_transpose{nd}d")
    _check_channels(x, weight, groups, transposed=True)
    strides, dilations = ntuple(stride, nd, "stride"), ntuple(dilation, nd, "dilation")
    pads = ntuple(padding, nd, "padding")
    extra = ntuple(output_padding, nd, "output_padding")
    for e, s, d in zip(extra, strides, dilations):
        if e >= s and e >= d:
            raise OnyxError(f"output padding must be smaller than either stride or dilation, "
                            f"got output_padding={extra}, stride={strides}, "
                            f"dilation={dilations}")
    out = apply("ConvTranspose", x, weight, bias, strides=strides, pads=pads + pads,
                dilations=dilations, group=int(groups), output_padding=extra,
                kernel_shape=list(weight.shape[2:]))
    return unbatched(out, added)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    return convolution(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    return convolution(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    return convolution(input, weight, bias, stride, padding, dilation, groups, 3)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return transposed_convolution(input, weight, bias, stride, padding, output_padding,
                                  groups, dilation, 1)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return transposed_convolution(input, weight, bias, stride, padding, output_padding,
                                  groups, dilation, 2)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return transposed_convolution(input, weight, bias, stride, padding, output_padding,
                                  groups, dilation, 3)
