"""``linear`` (ONNX Gemm for matrices, MatMul otherwise) and ``bilinear`` (Einsum)."""

from __future__ import annotations

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import ints
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` with torch's (out_features, in_features) weight layout."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise OnyxError(f"mat1 and mat2 shapes cannot be multiplied "
                        f"({_rows(input)}x{input.shape[-1] if input.ndim else 1} and "
                        f"{weight.shape[-1]}x{weight.shape[0] if weight.ndim == 2 else 1})")
    if input.ndim == 2 and weight.ndim == 2:
        return apply("Gemm", input, weight, bias, transB=1)
    w = apply("Transpose", weight, perm=[1, 0]) if weight.ndim == 2 else weight
    out = apply("MatMul", input, w)
    return out if bias is None else apply("Add", out, bias)


def _rows(t: Tensor) -> int:
    n = 1
    for d in t.shape[:-1]:
        n *= d
    return n


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """``y[..., o] = sum_ij x1[..., i] * weight[o, i, j] * x2[..., j] + bias[o]``."""
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise OnyxError(f"bilinear(): input sizes {list(input1.shape)} and "
                        f"{list(input2.shape)} do not match weight {list(weight.shape)}")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise OnyxError(f"bilinear(): input batch dimensions do not match: got "
                        f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    lead = list(input1.shape[:-1])
    x1 = apply("Reshape", input1, ints([-1, in1]))
    x2 = apply("Reshape", input2, ints([-1, in2]))
    out = apply("Einsum", x1, weight, x2, equation="bi,oij,bj->bo")
    if bias is not None:
        out = apply("Add", out, bias)
    return apply("Reshape", out, ints(lead + [out_f]))
