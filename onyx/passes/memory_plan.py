"""The memory-planning pass: records the plan of ``onyx.ir.memory`` in the pass report.

An analysis, not a rewrite (``run`` returns ``False``); the planner itself lives in the IR
so that backends can plan without importing passes.
"""

from __future__ import annotations

from onyx.ir.core import Model
from onyx.ir.memory import Lifetime, MemoryPlan, lifetimes, plan_memory
from onyx.passes.infra import Pass

__all__ = ["Lifetime", "MemoryPlan", "MemoryPlanningPass", "lifetimes", "plan_memory"]


class MemoryPlanningPass(Pass):
    """Computes ``self.plan`` for the model's main graph; changes nothing."""

    name = "memory_plan"

    def __init__(self, *, best_fit: bool = False) -> None:
        super().__init__()
        self.best_fit = best_fit
        self.plan: MemoryPlan | None = None

    def run(self, model: Model) -> bool:
        self.plan = plan_memory(model.graph, best_fit=self.best_fit)
        self.notes.append(self.plan.format())
        return False
