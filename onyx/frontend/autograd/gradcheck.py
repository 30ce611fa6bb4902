"""Check analytical gradients against float64 central differences (``torch.autograd.gradcheck``).

For a random cotangent ``v`` of the outputs, the analytical vector-Jacobian product
``v^T J`` (one ``autograd.grad`` call) is compared, element by element of each input, with the
central difference of ``<v, f(x)>``. ``gradgradcheck`` runs the same check on the function that
returns the first gradients, so it tests the gradients of the gradient rules.

    >>> import onyx
    >>> x = onyx.tensor([0.5, -1.0], dtype=onyx.float64, requires_grad=True)
    >>> onyx.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from onyx.frontend.autograd.engine import grad as _grad
from onyx.frontend.autograd.grad_mode import enable_grad
from onyx.ir.errors import OnyxError


class GradcheckError(OnyxError):
    """Analytical and numerical gradients disagree."""


def gradcheck(func: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, *, fast_mode: bool = False, seed: int = 0) -> bool:
    """True when ``func``'s gradients match central differences at ``inputs``.

    ``inputs``: a tensor or a sequence (tensors that require grad are checked; anything else is
    passed through). ``fast_mode`` compares one random direction per input instead of every
    element. On a mismatch, raises ``GradcheckError`` naming the input, the element and the
    difference (or returns False when ``raise_exception`` is False).
    """
    inputs = _as_tuple(inputs)
    wrt = _differentiable(inputs)
    rng = np.random.default_rng(seed)
    with enable_grad():
        outputs = _float_outputs(func(*inputs))
        cotangents = [_tensor(rng.standard_normal(o.shape), o) for o in outputs]
        analytical = _vjp(outputs, cotangents, [inputs[i] for i in wrt])
    for i, ga in zip(wrt, analytical):
        x = inputs[i]
        if tuple(ga.shape) != tuple(x.shape):
            return _fail(raise_exception, f"gradcheck: the gradient of input {i} has shape "
                                          f"{list(ga.shape)}, the input {list(x.shape)}")
        ga = np.asarray(ga.detach().numpy(), dtype=np.float64)
        probe = _Probe(func, inputs, i, cotangents)
        if fast_mode:
            u = rng.standard_normal(x.shape)
            found = _mismatch(np.sum(ga * u), probe.directional(u, eps), atol, rtol)
        else:
            found = _mismatch(ga, probe.elementwise(eps), atol, rtol)
        if found is not None:
            where, diff, a, n = found
            where = "a random direction" if fast_mode else where
            return _fail(raise_exception,
                         f"gradcheck: analytical and numerical gradients differ for input {i} "
                         f"(shape {list(x.shape)}): max difference {diff:.3g} "
                         f"(atol {atol}, rtol {rtol}); at {where}: analytical {a:.6g}, "
                         f"numerical {n:.6g}")
    return True


def _mismatch(analytical, numerical, atol: float, rtol: float):
    """(where, max difference, analytical, numerical) at the worst element, or None if close.

    NaN on one side only is a mismatch; NaN on both sides agrees.
    """
    a, n = np.atleast_1d(analytical), np.atleast_1d(numerical)
    err = np.abs(a - n) - (atol + rtol * np.abs(n))
    err = np.where(np.isnan(a) & np.isnan(n), -1.0, np.nan_to_num(err, nan=np.inf))
    if not err.size or np.max(err) <= 0:
        return None
    k = np.unravel_index(int(np.argmax(err)), err.shape)
    index = [int(j) for j in k][-np.ndim(analytical):] if np.ndim(analytical) else []
    return f"element {index}", float(np.nanmax(np.abs(a - n))), a[k], n[k]


def gradgradcheck(func: Callable, inputs, grad_outputs=None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True, *,
                  fast_mode: bool = False, seed: int = 0) -> bool:
    """gradcheck of the first gradients: checks second derivatives (``create_graph=True``)."""
    from onyx.frontend.tensor import Tensor
    inputs = _as_tuple(inputs)
    wrt = _differentiable(inputs)
    with enable_grad():
        outputs = _float_outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [Tensor._wrap(rng.standard_normal(o.shape).astype(np.float64),
                                     requires_grad=True) for o in outputs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_grads(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = _float_outputs(func(*ins))
        return tuple(_vjp(outs, list(gos), [ins[i] for i in wrt], create_graph=True))

    return gradcheck(first_grads, (*inputs, *grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode, seed=seed)


class _Probe:
    """<v, f(x)> as input ``index`` is nudged, the other inputs held."""

    def __init__(self, func, inputs, index: int, cotangents):
        self.func, self.inputs, self.index = func, list(inputs), index
        self.base = np.array(inputs[index].detach().numpy(), dtype=np.float64)
        self.v = [np.asarray(c.detach().numpy(), dtype=np.float64) for c in cotangents]

    def value(self, x: np.ndarray) -> float:
        from onyx.frontend.tensor import Tensor
        args = list(self.inputs)
        args[self.index] = Tensor._wrap(x.astype(self.base.dtype), requires_grad=True)
        with enable_grad():
            outs = _float_outputs(self.func(*args))
        if len(outs) != len(self.v):
            raise GradcheckError("gradcheck: the function returned a different number of "
                                 "outputs when its input was perturbed")
        return float(sum(np.sum(np.asarray(o.detach().numpy(), dtype=np.float64) * v)
                         for o, v in zip(outs, self.v)))

    def elementwise(self, eps: float) -> np.ndarray:
        flat = self.base.reshape(-1)
        out = np.zeros(flat.shape)
        for k in range(flat.size):
            step = np.zeros(flat.shape)
            step[k] = eps
            hi = self.value((flat + step).reshape(self.base.shape))
            lo = self.value((flat - step).reshape(self.base.shape))
            out[k] = (hi - lo) / (2 * eps)
        return out.reshape(self.base.shape)

    def directional(self, u: np.ndarray, eps: float) -> float:
        return (self.value(self.base + eps * u) - self.value(self.base - eps * u)) / (2 * eps)


def _vjp(outputs, cotangents, wrt, create_graph: bool = False) -> list:
    """v^T J for each of ``wrt`` (zeros where an input does not reach the outputs)."""
    from onyx.frontend.tensor import Tensor
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    grads = [None] * len(wrt)
    if pairs and wrt:
        grads = list(_grad([o for o, _ in pairs], wrt, [c for _, c in pairs],
                           create_graph=create_graph, allow_unused=True))
    return [Tensor._wrap(np.zeros(x.shape, x.detach().numpy().dtype)) if g is None else g
            for g, x in zip(grads, wrt)]


def _as_tuple(x) -> tuple:
    from onyx.frontend.tensor import Tensor
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _differentiable(inputs: Sequence) -> list[int]:
    from onyx.frontend.tensor import Tensor
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise GradcheckError("gradcheck: no input requires grad; pass tensors created with "
                             "requires_grad=True")
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype.name}, not float64: "
                          f"central differences may be too coarse", stacklevel=3)
    return wrt


def _float_outputs(out) -> list:
    from onyx.frontend.tensor import Tensor
    outs = [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]
    return [o for o in outs if o.dtype.is_floating_point]


def _tensor(values: np.ndarray, like):
    from onyx.frontend.tensor import Tensor
    return Tensor._wrap(np.asarray(values, dtype=like.detach().numpy().dtype))


def _fail(raise_exception: bool, message: str) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False
