"""onyx: a deep-learning library and graph compiler whose one IR is ONNX."""

from onyx import ir
from onyx.ir.errors import (GraphError, InputError, LimitError, ModelError, NodeError, OnyxError,
                            ShapeError, UnsupportedOpError)

__version__ = "0.1.0"

__all__ = ["GraphError", "InputError", "LimitError", "ModelError", "NodeError", "OnyxError",
           "ShapeError", "UnsupportedOpError", "ir", "__version__"]
