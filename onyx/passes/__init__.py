"""Graph optimization passes and the pipeline that runs them (``optimize``).

    >>> from onyx.passes import optimize, PASSES
    >>> PASSES[:3]
    ('shape_inference', 'dce', 'constant_folding')
"""

from onyx.passes.infra import Pass, PassManager, PassRecord, PipelineReport, run_pipeline
from onyx.passes.pipeline import PASSES, PIPELINE, optimize, passes_for_level
from onyx.passes.rules import Check, Match, RewritePass, Rule, fail, ok

__all__ = ["PASSES", "PIPELINE", "Check", "Match", "Pass", "PassManager", "PassRecord",
           "PipelineReport", "RewritePass", "Rule", "fail", "ok", "optimize", "passes_for_level",
           "run_pipeline"]
