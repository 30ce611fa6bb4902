"""The optimization pipeline: one ordered list of named passes, each with the level that
enables it. Reading ``PIPELINE`` tells you exactly what ``optimize`` does.

    >>> from onyx import ir
    >>> g = ir.Graph(name="g")
    >>> x = g.add_input("x", ir.tensor(ir.DType.FLOAT, (2, 3)))
    >>> y = g.append(ir.Node("Identity", [x], outputs=["t"])).outputs[0]
    >>> z = g.append(ir.Node("Relu", [y], outputs=["z"])).outputs[0]
    >>> g.outputs.append(z)
    >>> model = ir.Model(g)
    >>> optimized, report = optimize(model, level=1)
    >>> [n.op_type for n in optimized.graph], [n.op_type for n in model.graph]
    (['Relu'], ['Identity', 'Relu'])
"""

from __future__ import annotations

from collections.abc import Callable

from onyx.ir.core import Model
from onyx.ir.serde import from_onnx, to_onnx
from onyx.passes.attention import AttentionFusionPass
from onyx.passes.constant_folding import ConstantFoldingPass
from onyx.passes.conv_bn import ConvBatchNormFusionPass
from onyx.passes.cse import CommonSubexpressionEliminationPass
from onyx.passes.dce import DeadCodeEliminationPass
from onyx.passes.fusion import ElementwiseFusionPass
from onyx.passes.gelu import GeluFusionPass
from onyx.passes.gemm import GemmFusionPass
from onyx.passes.infra import Pass, PipelineReport, run_pipeline
from onyx.passes.layer_norm import LayerNormFusionPass
from onyx.passes.memory_plan import MemoryPlanningPass
from onyx.passes.shape_inference import ShapeInferencePass
from onyx.passes.simplify import SimplifyPass
from onyx.passes.softmax import SoftmaxFusionPass

# (name, minimum level, factory), in the order they run.
PIPELINE: tuple[tuple[str, int, Callable[[], Pass]], ...] = (
    ("shape_inference", 1, ShapeInferencePass),
    ("dce", 1, DeadCodeEliminationPass),
    ("constant_folding", 1, ConstantFoldingPass),
    ("simplify", 1, SimplifyPass),
    ("cse", 1, CommonSubexpressionEliminationPass),
    ("gemm", 2, GemmFusionPass),
    ("conv_bn", 2, ConvBatchNormFusionPass),
    ("gelu", 2, GeluFusionPass),  # written-out formulas become the ONNX op (by opset)
    ("layer_norm", 2, LayerNormFusionPass),
    ("softmax", 2, SoftmaxFusionPass),
    ("attention", 2, AttentionFusionPass),  # after softmax: it anchors on Softmax
    ("constant_folding", 1, ConstantFoldingPass),  # what simplify/CSE exposed
    ("fusion", 2, ElementwiseFusionPass),  # last rewrite: every fused op stays in one group
    ("dce", 1, DeadCodeEliminationPass),  # the nodes and weights the rewrites left behind
    ("memory_plan", 2, MemoryPlanningPass),  # analysis only: the peak-memory figure
)
PASSES: tuple[str, ...] = tuple(dict.fromkeys(name for name, _, _ in PIPELINE))
MAX_LEVEL = 2


def passes_for_level(level: int) -> list[Pass]:
    """Fresh pass objects of the pipeline at ``level`` (0: none)."""
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"optimization level must be 0..{MAX_LEVEL}, got {level}")
    return [factory() for _, min_level, factory in PIPELINE if level >= min_level]


def copy_model(model: Model) -> Model:
    """A deep copy through ONNX (keeps functions, metadata and external-data references)."""
    return from_onnx(to_onnx(model), base_dir=model.base_dir)


def optimize(model: Model, level: int = 1, *, verify: bool = True,
             after_each=None) -> tuple[Model, PipelineReport]:
    """Optimize a copy of ``model``; return ``(optimized, report)``. ``model`` is not changed.

    Level 0 runs nothing; 1 shape inference, DCE, constant folding, simplification and CSE;
    2 also fuses MatMul+Add into Gemm and BatchNormalization into Conv, groups elementwise
    chains into ``onyx.fused`` functions and plans memory (figures in the report's notes).
    """
    passes = passes_for_level(level)
    copy = copy_model(model)
    # Before IR 4 every initializer had to be a graph input (so, overridable): folded
    # constants need the later rule, which changes nothing else about the model.
    copy.ir_version = max(copy.ir_version, 4)
    report = run_pipeline(copy, passes, verify=verify, after_each=after_each)
    return copy, report
