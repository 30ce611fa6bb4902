"""``onyx.autograd``: reverse-mode differentiation as a transformation over ONNX ops.

    >>> import onyx
    >>> x = onyx.tensor([1.0, 2.0], requires_grad=True)
    >>> (gx,) = onyx.autograd.grad((x * x).sum(), x)
    >>> gx
    tensor([2., 4.])
"""

from onyx.frontend.autograd.engine import backward, grad
from onyx.frontend.autograd.function import Function, FunctionCtx, once_differentiable
from onyx.frontend.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from onyx.frontend.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from onyx.frontend.autograd.graph_grad import grad_graph
from onyx.frontend.autograd.rules import get_rule, registered_rules, vjp


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802
    """The pre-0.4 wrapper, kept for old code: returns ``data`` itself as a tensor."""
    from onyx.frontend.creation import as_tensor
    t = as_tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


__all__ = ["Function", "FunctionCtx", "GradcheckError", "Variable", "backward", "enable_grad",
           "get_rule", "grad", "grad_graph", "gradcheck", "gradgradcheck", "inference_mode",
           "is_grad_enabled", "no_grad", "once_differentiable", "registered_rules",
           "set_grad_enabled", "vjp"]
