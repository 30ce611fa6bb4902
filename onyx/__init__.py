"""onyx: a deep-learning library and graph compiler whose one IR is ONNX.

    >>> import onyx
    >>> x = onyx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

import sys as _sys

from onyx import cuda, ir, nn, onnx, optim, utils
from onyx.frontend import *  # noqa: F403  (tensors, dtypes, creation functions)
from onyx.frontend import __all__ as _frontend_all
from onyx.frontend import autograd
from onyx.frontend.autograd import (
                                    enable_grad,
                                    inference_mode,
                                    is_grad_enabled,
                                    no_grad,
                                    set_grad_enabled,
)
from onyx.frontend.compile import compile  # noqa: A004, F401  (onyx.compile, as torch.compile)
from onyx.ir.errors import (
                                    GraphError,
                                    InputError,
                                    LimitError,
                                    ModelError,
                                    NodeError,
                                    OnyxError,
                                    ShapeError,
                                    UnsupportedOpError,
)

# ``import onyx.autograd`` / ``from onyx.autograd import Variable`` as with torch
_sys.modules[__name__ + ".autograd"] = autograd

__version__ = "0.1.0"

__all__ = [*_frontend_all, "GraphError", "InputError", "LimitError", "ModelError", "NodeError",
           "OnyxError", "ShapeError", "UnsupportedOpError", "autograd", "cuda", "enable_grad",
           "inference_mode", "ir", "is_grad_enabled", "nn", "no_grad", "onnx", "optim",
           "set_grad_enabled", "utils", "__version__"]
