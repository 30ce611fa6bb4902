"""Nested outputs: flatten (tuples, lists, dicts of) tensors to a list and rebuild them."""

from __future__ import annotations

from onyx.frontend.compile.errors import TraceError
from onyx.frontend.tensor import Tensor


def flatten(obj, what: str) -> tuple[list, object]:
    """Tensors of a (nested tuple/list/dict of) tensors, and the structure to rebuild it."""
    if isinstance(obj, Tensor):
        return [obj], None
    if isinstance(obj, tuple | list):
        leaves, trees = [], []
        for i, o in enumerate(obj):
            sub, tree = flatten(o, f"{what}[{i}]")
            leaves += sub
            trees.append((len(sub), tree))
        return leaves, (type(obj), trees)
    if isinstance(obj, dict):
        leaves, trees = [], []
        for k, o in obj.items():
            sub, tree = flatten(o, f"{what}[{k!r}]")
            leaves += sub
            trees.append((k, len(sub), tree))
        return leaves, (dict, trees)
    if obj is None:
        return [], ("none",)
    raise TraceError(f"{what} is a {type(obj).__name__}; a traced function must return "
                     f"tensors (or tuples, lists, dicts of tensors, or None)")


def unflatten(leaves: list, tree):
    if tree is None:
        return leaves[0]
    if tree == ("none",):
        return None
    kind, trees = tree
    out, pos = [], 0
    if kind is dict:
        result = {}
        for k, n, sub in trees:
            result[k] = unflatten(leaves[pos:pos + n], sub)
            pos += n
        return result
    for n, sub in trees:
        out.append(unflatten(leaves[pos:pos + n], sub))
        pos += n
    return kind(out) if kind is not list else out
