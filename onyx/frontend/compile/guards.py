"""Guards: what a compiled graph assumed about a call, and why a new call does not match.

A signature is an ordered list of ``(label, value)`` pairs: every tensor argument's shape,
dtype and ``requires_grad``; Python scalar arguments by value; the module's training flags;
grad mode; the identity and shape of the state the graph reads; optimizer hyperparameters
that are baked in (the learning rate is a graph input, not a guard) and the layout of their
state. The pairs are hashable, so the tuple is the cache key, and printable, so ``explain``
can say "input 0: shape (32, 784) -> (16, 784)".
"""

from __future__ import annotations

import functools

from onyx.frontend.autograd.grad_mode import is_grad_enabled
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

_SCALARS = (int, float, bool, str, bytes, type(None))


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


@functools.lru_cache(maxsize=1024)
def _labels(label: str) -> tuple[str, str, str]:
    """The three guard labels of a tensor (made once: a cached call checks guards every time)."""
    return f"{label}: shape", f"{label}: dtype", f"{label}: requires_grad"


def tensor_guards(label: str, t: Tensor, dynamic_dims: set[int]) -> list[tuple[str, object]]:
    shape = t._data.shape
    if dynamic_dims:
        shape = tuple("batch" if i in dynamic_dims else d for i, d in enumerate(shape))
        if len(shape) <= max(dynamic_dims):
            shape = tuple(t._data.shape)  # too few dims for the symbolic one: guard it exactly
    shape_label, dtype_label, grad_label = _labels(label)
    return [(shape_label, shape), (dtype_label, t._data.dtype),
            (grad_label, bool(t.requires_grad))]


def argument_guards(args: tuple, kwargs: dict, dynamic: dict[int, set[int]]) -> list:
    """Guards of the call's arguments (tensors flattened in order, like the graph inputs)."""
    from onyx.frontend.compile.trace import flatten
    out: list = [("number of arguments", (len(args), tuple(sorted(kwargs))))]
    k = 0
    items = [(str(i), a) for i, a in enumerate(args)] + [(repr(n), a) for n, a in kwargs.items()]
    for name, a in items:
        if isinstance(a, Tensor | tuple | list | dict) and not _is_plain(a):
            leaves, tree = flatten(a, f"argument {name}")
            if tree is not None:
                out.append((f"argument {name}: structure", repr(tree)))
            for t in leaves:
                out += tensor_guards(f"input {k}", t, dynamic.get(k, set()))
                k += 1
        elif isinstance(a, _SCALARS) or _is_plain(a):
            out.append((f"argument {name}", a if not isinstance(a, list) else tuple(a)))
        else:
            raise OnyxError(f"compiled function: argument {name} is a {type(a).__name__}; "
                            f"pass tensors, Python scalars, or tuples/lists/dicts of tensors")
    return out


def _is_plain(a) -> bool:
    """A tuple/list of Python scalars (a shape, a size): guarded by value."""
    return isinstance(a, tuple | list) and all(isinstance(x, _SCALARS) for x in a)


def state_guards(module, state: dict, optimizers: list) -> list:
    out: list = [("grad mode", is_grad_enabled())]
    if module is not None:
        out.append(("training", tuple(m.training for m in module.modules())))
    out += [(f"state {name}", (id(t), t._data.shape, t._data.dtype, t.requires_grad,
                               t.grad is None)) for name, t in state.items()]
    for i, opt in enumerate(optimizers):
        for gi, group in enumerate(opt.param_groups):
            hyper = tuple((k, _hashable(v)) for k, v in sorted(group.items())
                          if k not in ("params", "lr"))
            out.append((f"optimizer {i} group {gi} hyperparameters", hyper))
            out.append((f"optimizer {i} group {gi} lr type", type(group.get("lr")).__name__))
        layout = tuple((id(p), tuple(sorted((k, getattr(v, "shape", None))
                                            for k, v in s.items())))
                       for p, s in opt.state.items())
        out.append((f"optimizer {i} state layout", layout))
    return out


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def describe_value(label: str, value) -> str:
    if label.endswith(": shape"):
        return _shape_text(value)
    if label.endswith(": dtype"):
        return repr(str(value))
    if label.startswith("state "):
        ident, shape, dtype, rg, no_grad = value
        return f"tensor #{ident % 100000} {_shape_text(shape)} {dtype}" \
               f"{' requires_grad' if rg else ''}{'' if no_grad else ' with .grad'}"
    if label.endswith("state layout"):
        return f"{sum(len(s) for _, s in value)} state tensors over {len(value)} parameters"
    return repr(value)


def diff(old: list, new: list) -> list[str]:
    """Readable differences between two signatures, e.g. ``input 0: shape (32, 4) -> (16, 4)``."""
    before = dict(old)
    lines = []
    for label, value in new:
        if label not in before:
            lines.append(f"{label}: new ({describe_value(label, value)})")
        elif before[label] != value:
            lines.append(f"{label} {describe_value(label, before[label])} -> "
                         f"{describe_value(label, value)}")
    gone = [label for label in before if label not in dict(new)]
    lines += [f"{label}: no longer present" for label in gone]
    return lines


def batch_only(old: list, new: list) -> bool:
    """Whether the two signatures differ only in dim 0 of input shapes."""
    before = dict(old)
    changed = [(label, before.get(label), v) for label, v in new if before.get(label) != v]
    if not changed or len(old) != len(new):
        return False
    for label, a, b in changed:
        if not (label.startswith("input ") and label.endswith(": shape") and a is not None
                and len(a) == len(b) and len(a) > 0 and a[1:] == b[1:]):
            return False
    return True
