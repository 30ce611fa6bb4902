"""``onyx.compile``: trace eager code into ONNX graphs, optimize them and run them cached.

    >>> import onyx
    >>> fast = onyx.compile(onyx.nn.Linear(4, 2).eval())
    >>> y = fast(onyx.randn(3, 4))

``onyx.compile`` is the function; its errors and the tracer hang off it too
(``onyx.compile.GraphBreak``, ``onyx.compile.trace``, ...).
"""

from onyx.frontend.compile.compiled import CompiledFunction, RecompileError, compile
from onyx.frontend.compile.export_training import export_training, training_model
from onyx.frontend.compile.trace import GraphBreak, Traced, TraceError, Tracer, trace
from onyx.frontend.compile.verify import VerificationError

for _name, _obj in (("GraphBreak", GraphBreak), ("TraceError", TraceError),
                    ("RecompileError", RecompileError), ("VerificationError", VerificationError),
                    ("CompiledFunction", CompiledFunction), ("trace", trace),
                    ("export_training", export_training)):
    setattr(compile, _name, _obj)

__all__ = ["CompiledFunction", "GraphBreak", "RecompileError", "TraceError", "Traced", "Tracer",
           "VerificationError", "compile", "export_training", "trace", "training_model"]
