"""VJP rules of the attention building blocks: RotaryEmbedding."""

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import arg


@vjp("RotaryEmbedding", uses_inputs=(1, 2, 3))
def _(b, node, g):
    # A rotation per position pair: its adjoint is the rotation by the opposite angle, the
    # same op with the sine negated. The caches are treated as constants (no cotangent).
    attrs = {k: node.attr(k) for k in ("interleaved", "num_heads", "rotary_embedding_dim")
             if node.attr(k) is not None}
    rest = [node.inputs[1], b.Neg(node.inputs[2])]
    if arg(node, 3) is not None:
        rest.append(node.inputs[3])
    return [b.RotaryEmbedding(g, *rest, **attrs), None, None, None]
