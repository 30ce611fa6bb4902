"""``onyx.onnx``: export modules to ONNX, import ONNX models as modules (re-exports only).

    >>> import onyx.onnx
    >>> onyx.onnx.export(model, (x,), "model.onnx")                  # doctest: +SKIP
    >>> net = onyx.onnx.import_model("model.onnx")                    # doctest: +SKIP
"""

from onyx.frontend.compile.export_training import export_training
from onyx.frontend.onnx_io import ONNXModule, export, export_model, import_model

__all__ = ["ONNXModule", "export", "export_model", "export_training", "import_model"]
