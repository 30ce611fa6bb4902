"""Normalization: ``batch_norm`` (ONNX BatchNormalization), ``layer_norm``
(LayerNormalization), ``group_norm`` (GroupNormalization, opset 21 per-channel scale),
``instance_norm`` (InstanceNormalization), ``normalize`` and ``local_response_norm`` (LRN).

In training, ``batch_norm`` normalizes with the batch's statistics through BatchNormalization's
training mode (so gradients flow through the mean and variance), and updates the running
buffers in place, outside autograd, with the unbiased batch variance as torch does.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend.autograd.grad_mode import no_grad
from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import ints, scalar
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _stash_type(x: Tensor) -> int:
    """ONNX ``stash_type``: statistics in float64 for float64 input, else in float32."""
    return 11 if x._data.dtype == np.float64 else 1


def _filled(value: float, n: int, like: Tensor) -> Tensor:
    return Tensor._wrap(np.full((n,), value, dtype=like._data.dtype))


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    if input.ndim < 2:
        raise OnyxError(f"batch_norm: expected an input of at least 2 dims (N, C, ...), got "
                        f"{list(input.shape)}")
    c = input.shape[1]
    scale = weight if weight is not None else _filled(1.0, c, input)
    shift = bias if bias is not None else _filled(0.0, c, input)
    if not training:
        if running_mean is None or running_var is None:
            raise OnyxError("running_mean and running_var must be defined in evaluation mode")
        return apply("BatchNormalization", input, scale, shift, running_mean, running_var,
                     epsilon=float(eps), training_mode=0)
    count = input.numel() // c
    if count <= 1:
        raise OnyxError(f"Expected more than 1 value per channel when training, got input "
                        f"size {list(input.shape)}")
    # the mean/var inputs only feed ONNX's own running averages (torch's differ): constants
    # here, so the in-place buffer update below cannot invalidate the recorded op
    out = apply("BatchNormalization", input, scale, shift, _filled(0.0, c, input),
                _filled(1.0, c, input), epsilon=float(eps), training_mode=1)
    if running_mean is not None and running_var is not None:
        _update_running(input, running_mean, running_var, momentum)
    return out


def _update_running(input: Tensor, running_mean: Tensor, running_var: Tensor,
                    momentum: float) -> None:
    axes = [0] + list(range(2, input.ndim))
    with no_grad():
        x = input.detach()
        mean = x.mean(axes)
        var = x.var(axes, unbiased=True)
        keep = 1.0 - momentum
        running_mean.copy_(running_mean * keep + mean * momentum)
        running_var.copy_(running_var * keep + var * momentum)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    shape = [normalized_shape] if isinstance(normalized_shape, int) else \
        [int(s) for s in normalized_shape]
    k = len(shape)
    if k == 0 or input.ndim < k or list(input.shape[input.ndim - k:]) != shape:
        raise OnyxError(f"Given normalized_shape={shape}, expected input with shape "
                        f"[*, {', '.join(map(str, shape))}], but got input of size"
                        f"{list(input.shape)}")
    scale = weight if weight is not None else \
        Tensor._wrap(np.ones(shape, dtype=input._data.dtype))
    return apply("LayerNormalization", input, scale, bias, axis=-k, epsilon=float(eps),
                 stash_type=_stash_type(input))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    if input.ndim < 2:
        raise OnyxError(f"group_norm: expected an input of at least 2 dims (N, C, ...), got "
                        f"{list(input.shape)}")
    c = input.shape[1]
    if c % num_groups:
        raise OnyxError(f"Expected number of channels in input to be divisible by num_groups, "
                        f"but got input of shape {list(input.shape)} and num_groups="
                        f"{num_groups}")
    scale = weight if weight is not None else _filled(1.0, c, input)
    shift = bias if bias is not None else _filled(0.0, c, input)
    x = input if input.ndim > 2 else apply("Unsqueeze", input, ints([2]))
    out = apply("GroupNormalization", x, scale, shift, num_groups=int(num_groups),
                epsilon=float(eps), stash_type=_stash_type(input))
    return out if input.ndim > 2 else apply("Squeeze", out, ints([2]))


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    c = input.shape[1]
    if not use_input_stats:
        # normalize every sample with the running statistics: batch_norm in eval mode
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum,
                          eps)
    scale = weight if weight is not None else _filled(1.0, c, input)
    shift = bias if bias is not None else _filled(0.0, c, input)
    out = apply("InstanceNormalization", input, scale, shift, epsilon=float(eps))
    if running_mean is not None and running_var is not None:
        # torch averages the per-instance statistics over the batch
        axes = list(range(2, input.ndim))
        with no_grad():
            x = input.detach()
            mean, var = x.mean(axes).mean(0), x.var(axes, unbiased=True).mean(0)
            running_mean.copy_(running_mean * (1.0 - momentum) + mean * momentum)
            running_var.copy_(running_var * (1.0 - momentum) + var * momentum)
    return out


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out=None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    norm = input.norm(p, dim, keepdim=True)
    return input / norm.clamp_min(eps)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    if input.ndim < 3:
        raise OnyxError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                        f"dimensions)")
    if size % 2 == 0:
        # ONNX LRN centres an odd window; torch's even window reaches one further back
        raise OnyxError("local_response_norm: an even size is not supported")
    return apply("LRN", input, size=int(size), alpha=float(alpha), beta=float(beta),
                 bias=float(k))


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    shape = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
    axes = list(range(input.ndim - len(shape), input.ndim))
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    ms = (input * input).mean(axes, keepdim=True)
    out = input * apply("Reciprocal", apply("Sqrt", ms + scalar(eps, input)))
    return out if weight is None else out * weight
