"""Random tensors (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``,
``multinomial``) and the random in-place fills (``uniform_``, ``normal_``, ...).

Every draw comes from ``onyx.frontend.random``: the default generator (``onyx.manual_seed``)
or the ``generator=`` given, so seeded runs repeat exactly. Samples are constants, not results
of a differentiable op: like torch, ``normal(mean, std)`` passes no gradient to its arguments.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend import dispatch, dtypes
from onyx.frontend.creation import check_device, size_of
from onyx.frontend.ops._common import method
from onyx.frontend.ops.inplace import inplace
from onyx.frontend.random import rng
from onyx.frontend.tensor import Tensor
from onyx.ir import limits
from onyx.ir.errors import OnyxError


def _float_dtype(dtype, name: str = "check_uniform_bounds") -> dtypes.dtype:
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not dt.is_floating_point:
        raise OnyxError(f"\"{name}\" not implemented for '{dt.name}'")
    return dt


def _leaf(values: np.ndarray, dt: dtypes.dtype, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(np.asarray(values).astype(dt.np, copy=False))
    return t.requires_grad_(True) if requires_grad else t


def _unit_interval(values: np.ndarray, dt: dtypes.dtype) -> np.ndarray:
    """Uniform draws cast to ``dt`` without rounding up to 1.0 (the interval is open)."""
    out = values.astype(dt.np)
    below_one = np.asarray(1.0, dt.np) - np.asarray(dtypes.finfo(dt).eps / 2, dt.np)
    return np.minimum(out, below_one)


def _shape(size, name: str) -> tuple[int, ...]:
    shape = size_of(size, name)
    limits.check_elements(shape, 64, name)
    return shape


def _traced(t: Tensor, op_type: str, like: Tensor | None = None, **attrs) -> Tensor:
    """Inside ``onyx.compile`` tracing, the sample becomes a random op of the graph (a new
    draw per compiled run) instead of a constant."""
    if dispatch._TRACER is not None:
        if like is None:
            attrs["shape"] = list(t.shape)
        dispatch._TRACER.random_op(op_type + ("Like" if like is not None else ""), t, like,
                                   **attrs)
    return t


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False, _like=None) -> Tensor:
    """Uniform samples in ``[0, 1)``."""
    check_device(device)
    dt = _float_dtype(dtype)
    t = _leaf(_unit_interval(rng(generator).random(_shape(size, "rand")), dt), dt,
              requires_grad)
    return _traced(t, "RandomUniform", _like, low=0.0, high=1.0)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False, _like=None) -> Tensor:
    """Standard normal samples."""
    check_device(device)
    dt = _float_dtype(dtype, "normal_kernel_cpu")
    t = _leaf(rng(generator).standard_normal(_shape(size, "randn")), dt, requires_grad)
    return _traced(t, "RandomNormal", _like, mean=0.0, scale=1.0)


def randint(*args, low=None, high=None, size=None, generator=None, out=None, dtype=None,
            layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in ``[low, high)``."""
    check_device(device)
    if high is not None:
        args = (low if low is not None else 0, high) + args
    if size is not None:
        args = args + (size,)
    if len(args) == 2:
        low, (high, size) = 0, args
    elif len(args) == 3:
        low, high, size = args
    else:
        raise TypeError("randint() expects (high, size) or (low, high, size)")
    low, high = int(low), int(high)
    if low >= high:
        raise OnyxError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                        f"to={high}")
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    draws = rng(generator).integers(low, high, _shape((tuple(size),), "randint"))
    return _leaf(draws, dt, requires_grad)


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    check_device(device)
    if n < 0:
        raise OnyxError(f"n must be non-negative, got{n}")
    limits.check_elements((n,), 64, "randperm")
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    return _leaf(rng(generator).permutation(n), dt, requires_grad)


def _value(x) -> np.ndarray:
    return x._data.astype(np.float64) if isinstance(x, Tensor) else np.asarray(x, np.float64)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None,
           layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Normal samples with elementwise ``mean`` and ``std`` (numbers or tensors)."""
    check_device(device)
    m, s = _value(mean), _value(std)
    if (s < 0).any():
        raise OnyxError(f"normal expects std >= 0.0, but found std {float(s.min())}")
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if size is not None:
        shape = _shape((tuple(size),), "normal")
    else:
        shape = np.broadcast_shapes(*[tuple(t.shape) for t in tensors]) if tensors else ()
    dt = dtypes.as_dtype(dtype) if dtype is not None else \
        (dtypes.result_type(*tensors) if tensors else dtypes.get_default_dtype())
    draws = m + s * rng(generator).standard_normal(shape)
    return _leaf(draws, _float_dtype(dt, "normal_kernel_cpu"), requires_grad)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad, _like=input)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, device=device,
                 requires_grad=requires_grad, _like=input)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad: bool = False, memory_format=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, device=device,
                   requires_grad=requires_grad)


def _check_probabilities(p: np.ndarray) -> None:
    if p.size and not ((p >= 0) & (p <= 1)).all():
        raise OnyxError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")


@method("bernoulli")
def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """Ones with probability ``input`` (or ``p``), in ``input``'s dtype."""
    probs = np.broadcast_to(_value(p), input.shape) if p is not None else _value(input)
    _check_probabilities(probs)
    draws = rng(generator).random(input.shape) < probs
    return Tensor._wrap(draws.astype(input.dtype.np))


@method("multinomial")
def multinomial(input, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Category indices drawn from the rows of ``input`` (non-negative weights)."""
    if input.ndim not in (1, 2):
        raise OnyxError("prob_dist must be 1 or 2 dim")
    w = _value(input).reshape(-1, input.shape[-1])
    if (w < 0).any() or not np.isfinite(w).all():
        raise OnyxError("probability tensor contains either `inf`, `nan` or element < 0")
    if (w.sum(axis=1) <= 0).any():
        raise OnyxError("invalid multinomial distribution (sum of probabilities <= 0)")
    n = w.shape[1]
    if not replacement and num_samples > n:
        raise OnyxError("cannot sample n_sample > prob_dist.size(-1) samples without "
                        "replacement")
    g = rng(generator)
    if replacement:
        cdf = np.cumsum(w, axis=1)
        u = g.random((w.shape[0], num_samples)) * cdf[:, -1:]
        idx = np.stack([np.searchsorted(c, row, side="right") for c, row in zip(cdf, u)])
        idx = np.minimum(idx, n - 1)
    else:
        # Efraimidis-Spirakis: the k largest u ** (1 / w) are a weighted draw without
        # replacement; zero weights get key -inf and are picked only when nothing else is left
        with np.errstate(divide="ignore"):
            keys = np.log(g.random(w.shape)) / w
        idx = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = idx.astype(np.int64)
    return Tensor._wrap(out.reshape(num_samples) if input.ndim == 1 else out)


def poisson(input, generator=None) -> Tensor:
    return Tensor._wrap(rng(generator).poisson(_value(input)).astype(input.dtype.np))


# ------------------------------------------------------------------ in-place fills
def _fill_random(self: Tensor, draw) -> Tensor:
    return inplace(self, lambda old: Tensor._wrap(np.asarray(draw(tuple(old.shape)))),
                   strict=False)


@method("uniform_")
def uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator=None, **kwargs) -> Tensor:
    low = kwargs.pop("from", from_)
    if low > to:
        raise OnyxError(f"uniform_ expects to return a [from, to) range, but found from={low} "
                        f"> to={to}")
    return _fill_random(self, lambda s: low + (to - low) * rng(generator).random(s))


@method("normal_")
def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    if std < 0:
        raise OnyxError(f"normal expects std >= 0.0, but found std {std}")
    return _fill_random(self, lambda s: mean + std * rng(generator).standard_normal(s))


@method("bernoulli_")
def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    probs = _value(p)
    _check_probabilities(probs)
    return _fill_random(self, lambda s: rng(generator).random(s) < probs)


@method("random_")
def random_(self, from_: int = 0, to: int | None = None, *, generator=None,
            **kwargs) -> Tensor:
    """Integers in ``[from, to)``; without ``to``, up to the dtype's exact-integer range."""
    low = kwargs.pop("from", from_)
    if to is None:
        if self.dtype.is_floating_point:
            to = 2 ** _mantissa(self.dtype) + 1
        elif self.dtype is dtypes.bool_:
            to = 2
        else:
            to = dtypes.iinfo(self.dtype).max + 1
    if low >= to:
        raise OnyxError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                        f"to={to}")
    return _fill_random(self, lambda s: rng(generator).integers(low, to, s))


def _mantissa(dt: dtypes.dtype) -> int:
    return {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}[dt.name]


@method("exponential_")
def exponential_(self, lambd: float = 1.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s: rng(generator).exponential(1.0 / lambd, s))


@method("log_normal_")
def log_normal_(self, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s: rng(generator).lognormal(mean, std, s))


@method("geometric_")
def geometric_(self, p: float, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s: rng(generator).geometric(p, s))


@method("cauchy_")
def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s: median + sigma * rng(generator).standard_cauchy(s))
