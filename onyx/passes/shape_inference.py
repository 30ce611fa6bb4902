"""Shape inference as a pass: types every value the shape rules can (``infer_shapes``)."""

from __future__ import annotations

from onyx.ir.core import Model
from onyx.ir.shapes import infer_shapes
from onyx.passes.infra import Pass


class ShapeInferencePass(Pass):
    name = "shape_inference"

    def run(self, model: Model) -> bool:
        return infer_shapes(model) > 0
