"""VJP rules of matrix products and linear algebra: MatMul, Gemm, Einsum, Det."""

import string

import numpy as np

from onyx.frontend.autograd.rules import vjp
from onyx.frontend.autograd.vjp_rules._shapes import expand_like, ints, rank, require_static


def _swap_last(b, x):
    perm = list(range(rank(b, x)))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return b.Transpose(x, perm=perm)


@vjp("MatMul")
def _(b, node, g):
    x, y = node.inputs
    xs, ys = b.shape(x), b.shape(y)
    if len(xs) == 1 and len(ys) == 1:   # dot product
        return [b.Mul(g, y), b.Mul(g, x)]
    if len(xs) == 1:                     # (k) @ (..., k, n) -> (..., n)
        gx = b.MatMul(b.Unsqueeze(g, ints(b, [-2])), _swap_last(b, y))  # (..., 1, k)
        gx = b.ReduceSum(gx, ints(b, list(range(len(ys) - 1))), keepdims=0)
        gy = b.Mul(b.Unsqueeze(x, ints(b, [-1])), b.Unsqueeze(g, ints(b, [-2])))
        return [gx, b.unbroadcast(gy, y)]
    if len(ys) == 1:                     # (..., m, k) @ (k) -> (..., m)
        gx = b.Mul(b.Unsqueeze(g, ints(b, [-1])), y)
        gy = b.MatMul(_swap_last(b, x), b.Unsqueeze(g, ints(b, [-1])))  # (..., k, 1)
        lead = list(range(len(xs) - 2))
        gy = b.ReduceSum(gy, ints(b, lead + [len(xs) - 1]), keepdims=0)
        return [b.unbroadcast(gx, x), gy]
    # the products nobody needs (e.g. the gradient of a data input) are not computed
    gx = b.unbroadcast(b.MatMul(g, _swap_last(b, y)), x) if b.needs_grad(node, 0) else None
    gy = b.unbroadcast(b.MatMul(_swap_last(b, x), g), y) if b.needs_grad(node, 1) else None
    return [gx, gy]


@vjp("Gemm")
def _(b, node, g):
    a, w = node.inputs[0], node.inputs[1]
    c = node.inputs[2] if len(node.inputs) > 2 else None
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    ta, tb = node.attr("transA", 0), node.attr("transB", 0)
    ga = gw = None
    if b.needs_grad(node, 0):
        ga = b.Gemm(g, w, alpha=alpha, transB=0 if tb else 1) if not ta else \
            b.Gemm(w, g, alpha=alpha, transA=1 if tb else 0, transB=1)
    if b.needs_grad(node, 1):
        gw = b.Gemm(a, g, alpha=alpha, transA=0 if ta else 1) if not tb else \
            b.Gemm(g, a, alpha=alpha, transA=1, transB=1 if ta else 0)
    grads = [ga, gw]
    if c is not None and b.needs_grad(node, 2):
        gc = g if beta == 1.0 else b.Mul(g, b.const(beta, like=g))
        grads.append(b.unbroadcast(gc, c))
    return grads


# ----------------------------------------------------------------------------------- Einsum
def _einsum_terms(equation: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Input and output subscripts with every '...' spelled out as letters of its own."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    spare = [c for c in string.ascii_letters if c not in eq]
    counts = [len(s) - (len(t) - 3) if "..." in t else 0 for t, s in zip(terms, shapes)]
    ell = "".join(spare[:max(counts, default=0)])
    expanded = [t.replace("...", ell[len(ell) - n:]) for t, n in zip(terms, counts)]
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit: broadcast dims, then the letters used once, in alphabetical order
        named = "".join(t.replace("...", "") for t in terms)
        out = ell + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    return expanded, out


@vjp("Einsum")
def _(b, node, g):
    shapes = [tuple(b.shape(x)) for x in node.inputs]
    terms, out = _einsum_terms(node.attr("equation"), shapes)
    sizes = {c: d for t, s in zip(terms, shapes) for c, d in zip(t, s) if d != 1}
    fresh = iter(c for c in string.ascii_letters if c not in "".join(terms) + out)
    return [_einsum_operand_grad(b, node, g, i, terms, out, sizes, fresh)
            for i in range(len(terms))]


def _einsum_operand_grad(b, node, g, i, terms, out, sizes, fresh):
    """The cotangent of operand i: an Einsum of g with the other operands onto i's subscripts.

    A letter repeated in operand i (a diagonal) becomes a fresh letter tied to the first by an
    identity matrix; a letter only operand i has (summed in the forward, or a broadcast size-1
    dim) is left out of the Einsum and restored by Expand.
    """
    x = node.inputs[i]
    shape = b.shape(x)
    operands, subs = [g], [out]
    for k, t in enumerate(terms):
        if k != i:
            operands.append(node.inputs[k])
            subs.append(t)
    target = []
    for pos, c in enumerate(terms[i]):
        if c in target or (shape[pos] == 1 and sizes.get(c, 1) != 1):
            c2 = next(fresh)
            if shape[pos] != 1:      # a diagonal: tie the fresh letter to c
                n = require_static(b, x, "Einsum", only=[pos])[pos]
                operands.append(b.const(np.eye(n), like=g))
                subs.append(c + c2)
            c = c2
        target.append(c)
    present = set("".join(subs))
    kept = [c for c in target if c in present]
    gx = b.Einsum(*operands, equation=",".join(subs) + "->" + "".join(kept))
    missing = [pos for pos, c in enumerate(target) if c not in present]
    if missing:
        gx = expand_like(b, b.Unsqueeze(gx, ints(b, missing)), x)
    return gx


# -------------------------------------------------------------------------------------- Det
@vjp("Det")
def _(b, node, g):
    x = node.inputs[0]
    n = require_static(b, x, "Det", only=[-1])[-1]
    r = rank(b, x)
    g = b.Unsqueeze(g, ints(b, [-2, -1]))
    if n == 1:
        return [expand_like(b, g, x)]
    # d det / dX = cofactor matrix: C[i, j] = (-1)^(i+j) det(X without row i and column j)
    keep = np.array([[k for k in range(n) if k != i] for i in range(n)])
    minors = b.Gather(b.Gather(x, b.const(keep, dtype=np.int64), axis=-2),
                      b.const(keep, dtype=np.int64), axis=-1)
    lead = list(range(r - 2))
    minors = b.Transpose(minors, perm=lead + [r - 2, r, r - 1, r + 1])
    signs = (-1.0) ** np.add.outer(np.arange(n), np.arange(n))
    cof = b.Mul(b.Det(minors), b.const(signs, like=x))
    return [b.Mul(g, cof)]
