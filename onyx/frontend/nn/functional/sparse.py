"""``embedding`` (ONNX Gather on the weight's rows) and ``one_hot`` (ONNX OneHot)."""

from __future__ import annotations

import numpy as np

from onyx.frontend.autograd.grad_mode import no_grad
from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import ints, scalar
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _check_indices(input: Tensor, num: int) -> None:
    if input.dtype.is_floating_point or input.dtype.is_complex:
        raise OnyxError(f"Expected tensor for argument #1 'indices' to have one of the "
                        f"following scalar types: Long, Int; but got {input.dtype.name} instead")
    values = input._data
    if values.size and (values.min() < 0 or values.max() >= num):
        raise OnyxError(f"index out of range in self: indices must lie in [0, {num}), got "
                        f"[{values.min()}, {values.max()}]")


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by ``input``; the ``padding_idx`` row gets no gradient."""
    num = weight.shape[0]
    _check_indices(input, num)
    if scale_grad_by_freq:
        raise OnyxError("embedding: scale_grad_by_freq is not supported")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise OnyxError("Padding_idx must be within num_embeddings")
        padding_idx %= num
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    out = apply("Gather", weight, input, axis=0)
    if padding_idx is None or not weight.requires_grad:
        return out
    # the same rows from a detached weight where the index is padding: no gradient there
    frozen = apply("Gather", weight.detach(), input, axis=0)
    is_pad = apply("Unsqueeze", apply("Equal", input, Tensor._wrap(
        np.asarray(padding_idx, dtype=input._data.dtype))), ints([-1]))
    return apply("Where", is_pad, frozen, out)


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows whose norm exceeds ``max_norm`` down to it, in place."""
    rows = np.unique(input._data.reshape(-1))
    if rows.size == 0:
        return
    with no_grad():
        idx = Tensor._wrap(rows.astype(np.int64))
        picked = apply("Gather", weight, idx, axis=0)
        norms = picked.norm(norm_type, 1, keepdim=True)
        big = apply("Greater", norms, scalar(max_norm, weight))
        factor = apply("Where", big, scalar(max_norm, weight) / (norms + scalar(1e-7, weight)),
                       scalar(1.0, weight))
        updated = apply("ScatterND", weight, apply("Unsqueeze", idx, ints([1])),
                        picked * factor)
        weight.copy_(updated)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot vectors along a new last dim."""
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype.name == "bool":
        raise OnyxError("one_hot is only applicable to index tensor of type LongTensor.")
    values = tensor._data
    if values.size and values.min() < 0:
        raise OnyxError("Class values must be non-negative.")
    if num_classes == -1:
        if values.size == 0:
            raise OnyxError("Can not infer total number of classes from empty tensor.")
        num_classes = int(values.max()) + 1
    elif values.size and values.max() >= num_classes:
        raise OnyxError("Class values must be smaller than num_classes.")
    return apply("OneHot", tensor, ints(num_classes), ints([0, 1]), axis=-1)
