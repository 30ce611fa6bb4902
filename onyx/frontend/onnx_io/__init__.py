"""ONNX export and import for ``nn.Module``s: ``export``, ``to_onnx`` and ``import_model``.

The public names live in ``onyx.onnx``.
"""

from onyx.frontend.onnx_io.export import export, export_model
from onyx.frontend.onnx_io.importer import ONNXModule, import_model

__all__ = ["ONNXModule", "export", "export_model", "import_model"]
