"""The VJP rule registry: one rule per ONNX op, emitting ONNX ops through a builder.

    @vjp("Exp", uses_outputs=(0,))
    def _(b, node, g):
        return [b.Mul(g, node.outputs[0])]

A rule takes the builder ``b`` (eager or graph: it never knows which), the forward ``node``
(``node.inputs``, ``node.outputs``, ``node.attr(name, default)``) and one cotangent per output
(``None`` where no gradient flows), and returns one cotangent per input (``None`` where the input
is not differentiable). ``uses_inputs`` / ``uses_outputs`` name the values the rule reads, so an
in-place change to anything else does not invalidate the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ALL = None  # "every input" marker


@dataclass(frozen=True)
class VJPRule:
    fn: Callable
    op_type: str
    uses_inputs: tuple[int, ...] | None
    uses_outputs: tuple[int, ...]


_RULES: dict[tuple[str, str], VJPRule] = {}


def vjp(op_type: str, *, domain: str = "", uses_inputs: tuple[int, ...] | None = ALL,
        uses_outputs: tuple[int, ...] = ()):
    def register(fn: Callable) -> Callable:
        key = (domain, op_type)
        if key in _RULES:
            raise ValueError(f"VJP rule for {op_type} registered twice")
        _RULES[key] = VJPRule(fn, op_type, uses_inputs, uses_outputs)
        return fn
    return register


def get_rule(op_type: str, domain: str = "") -> VJPRule | None:
    _load_all()
    return _RULES.get((domain, op_type))


def registered_rules() -> dict[tuple[str, str], VJPRule]:
    _load_all()
    return dict(_RULES)


_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from onyx.frontend.autograd import vjp_rules  # noqa: F401
