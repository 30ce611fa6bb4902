"""Tensor creation against PyTorch (values, dtypes, errors), random tensors (shapes, dtypes,
seeding, generators, saved states), legacy constructors and dtypes."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import onyx

DETERMINISTIC = [
    lambda m: m.tensor(3.5), lambda m: m.tensor(7), lambda m: m.tensor(True),
    lambda m: m.tensor([1, 2.5]), lambda m: m.tensor([[1, 2], [3, 4]]),
    lambda m: m.tensor([True, 1]), lambda m: m.tensor([]),
    lambda m: m.tensor([[1, 2]], dtype=m.float16), lambda m: m.tensor([1.7, -1.7], dtype=m.int32),
    lambda m: m.tensor(np.arange(3, dtype=np.int32)), lambda m: m.tensor(np.ones(2)),
    lambda m: m.tensor([np.float64(1.5)]), lambda m: m.tensor([m.tensor(1.0), 2]),
    lambda m: m.tensor(m.tensor([1, 2], dtype=m.int8)),
    lambda m: m.as_tensor([1, 2]), lambda m: m.as_tensor(np.ones(2, np.float32), dtype=m.int64),
    lambda m: m.zeros(2, 3), lambda m: m.zeros((2, 3)), lambda m: m.zeros([2], dtype=m.int64),
    lambda m: m.zeros(()), lambda m: m.ones(2, 1, dtype=m.bool), lambda m: m.empty(0, 2).shape,
    lambda m: m.full((2, 2), 1.5), lambda m: m.full((2,), 3), lambda m: m.full((2,), True),
    lambda m: m.full([3], 1.5, dtype=m.int64), lambda m: m.zeros_like(m.ones(2, dtype=m.int8)),
    lambda m: m.ones_like(m.ones(2), dtype=m.float64), lambda m: m.full_like(m.ones(2, 2), 7),
    lambda m: m.empty_like(m.ones(3)).shape,
    lambda m: m.arange(5), lambda m: m.arange(1, 4), lambda m: m.arange(0, 1, 0.1),
    lambda m: m.arange(5.0), lambda m: m.arange(10, 0, -3), lambda m: m.arange(0, 5, 2,
                                                                               dtype=m.float64),
    lambda m: m.arange(m.tensor(3)), lambda m: m.arange(-1.5, 2.5, 0.5),
    lambda m: m.linspace(0, 1, 5), lambda m: m.linspace(-2, 3, 7, dtype=m.float64),
    lambda m: m.linspace(0, 1, 1), lambda m: m.linspace(0, 1, 0), lambda m: m.linspace(3, -1, 4),
    lambda m: m.logspace(0, 2, 3), lambda m: m.logspace(-1, 1, 4, base=2.0),
    lambda m: m.eye(3), lambda m: m.eye(2, 4), lambda m: m.eye(3, dtype=m.int64),
    lambda m: m.tril_indices(3, 3), lambda m: m.triu_indices(3, 4, 1),
    lambda m: m.scalar_tensor(2), lambda m: m.ones(2).new_tensor([1, 2]),
    lambda m: m.ones(2, dtype=m.int32).new_zeros(2, 2), lambda m: m.ones(2).new_ones((3,)),
    lambda m: m.ones(2, dtype=m.float64).new_full((2,), 4),
    lambda m: m.ones(2).new_empty(3).shape,
    lambda m: m.FloatTensor([1, 2]), lambda m: m.LongTensor([1.5, 2]),
    lambda m: m.Tensor(2, 3).shape,
    lambda m: m.Tensor([1, 2]), lambda m: m.DoubleTensor(2).shape, lambda m: m.IntTensor([[1]]),
    lambda m: m.BoolTensor([0, 1]), lambda m: m.ByteTensor([1, 255]), lambda m: m.Tensor(),
    lambda m: m.ones(2).new(3).shape, lambda m: m.FloatTensor(m.Size([2, 1])).shape,
]


def _same(o, t) -> None:
    if isinstance(t, torch.Size):
        assert tuple(o) == tuple(t)
        return
    assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (o.dtype, t.dtype)
    assert tuple(o.shape) == tuple(t.shape)
    np.testing.assert_allclose(o.numpy().astype(np.float64), t.numpy().astype(np.float64),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("k", range(len(DETERMINISTIC)))
def test_creation_matches_torch(k):
    _same(DETERMINISTIC[k](onyx), DETERMINISTIC[k](torch))


@pytest.mark.parametrize("fn", [
    lambda m: m.tensor(None), lambda m: m.tensor("a"), lambda m: m.tensor([[1, 2], [3]]),
    lambda m: m.zeros(-1), lambda m: m.zeros(2.5), lambda m: m.arange(0, 1, 0),
    lambda m: m.arange(1, 0, 1), lambda m: m.tensor([1], requires_grad=True),
    lambda m: m.linspace(0, 1, -1), lambda m: m.ones(2, dtype=m.int64, requires_grad=True),
    lambda m: m.from_numpy([1, 2]), lambda m: m.randint(5, 5, (2,)),
    lambda m: m.rand(2, dtype=m.int64), lambda m: m.multinomial(m.ones(2), 3),
    lambda m: m.bernoulli(m.tensor([1.5])), lambda m: m.normal(m.zeros(2), m.tensor([-1.0, 1])),
], ids=["none", "str", "ragged", "negative_size", "float_size", "zero_step", "bad_step_sign",
        "int_requires_grad", "negative_steps", "int_ones_grad", "from_list", "randint_range",
        "rand_int", "multinomial_too_many", "bernoulli_p", "normal_std"])
def test_creation_errors_match_torch_kind(fn):
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(onyx)
    for kind in (TypeError, ValueError, IndexError, NotImplementedError):
        if isinstance(want.value, kind) and not isinstance(want.value, RuntimeError):
            if kind is NotImplementedError:
                break
            assert isinstance(got.value, kind), repr(got.value)
            return
    assert isinstance(got.value, onyx.OnyxError), repr(got.value)


def test_as_tensor_and_from_numpy_share_memory():
    a = np.zeros(3, np.float32)
    t = onyx.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 5
    assert onyx.as_tensor(a).numpy() is a or np.shares_memory(onyx.as_tensor(a).numpy(), a)
    assert onyx.as_tensor(t) is t
    assert not np.shares_memory(onyx.tensor(a).numpy(), a)
    assert onyx.from_numpy(np.ones(2, np.int16)).dtype is onyx.int16


def test_requires_grad_and_default_dtype():
    x = onyx.zeros(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    onyx.set_default_dtype(onyx.float64)
    try:
        assert onyx.tensor([1.5]).dtype is onyx.float64
        assert onyx.arange(0.0, 1.0, 0.5).dtype is onyx.float64
        assert onyx.rand(2).dtype is onyx.float64
        assert repr(onyx.tensor([1.5])) == "tensor([1.5000])"
    finally:
        onyx.set_default_dtype(onyx.float32)
    assert onyx.get_default_dtype() is onyx.float32


def test_dtype_names_and_aliases():
    assert onyx.float is onyx.float32 and onyx.double is onyx.float64
    assert onyx.half is onyx.float16 and onyx.long is onyx.int64 and onyx.int is onyx.int32
    assert onyx.short is onyx.int16 and onyx.bool.name == "bool" and onyx.cfloat is onyx.complex64
    assert repr(onyx.float32) == "onyx.float32" and onyx.bfloat16.is_floating_point
    assert onyx.finfo(onyx.float32).eps == torch.finfo(torch.float32).eps
    assert onyx.finfo(onyx.bfloat16).max == torch.finfo(torch.bfloat16).max
    assert onyx.iinfo(onyx.int8).min == -128
    assert onyx.promote_types(onyx.int32, onyx.float16) is onyx.float16
    assert onyx.can_cast(onyx.int64, onyx.float32) and not onyx.can_cast(onyx.float32,
                                                                        onyx.int64)
    assert pickle.loads(pickle.dumps(onyx.float16)) is onyx.float16
    for d in (onyx.float16, onyx.bfloat16, onyx.float32, onyx.float64, onyx.int8, onyx.int16,
              onyx.int32, onyx.int64, onyx.uint8, onyx.bool):
        assert d.itemsize == getattr(torch, d.name).itemsize


def test_legacy_types_check_dtype():
    x = onyx.FloatTensor([1.0])
    assert isinstance(x, onyx.FloatTensor) and isinstance(x, onyx.Tensor)
    assert not isinstance(x, onyx.LongTensor) and isinstance(x.long(), onyx.LongTensor)
    assert isinstance(onyx.Tensor([1]), onyx.Tensor)
    assert onyx.Tensor([1]).dtype is onyx.float32
    assert onyx.Tensor(2, 3).dtype is onyx.float32 and onyx.DoubleTensor(2).dtype is onyx.float64
    assert onyx.ones(2, dtype=onyx.int8).new(3).dtype is onyx.int8


def test_seeding_and_generators():
    onyx.manual_seed(123)
    a = onyx.randn(4)
    state = onyx.get_rng_state()
    b = onyx.rand(3)
    onyx.set_rng_state(state)
    np.testing.assert_array_equal(onyx.rand(3).numpy(), b.numpy())
    onyx.manual_seed(123)
    np.testing.assert_array_equal(onyx.randn(4).numpy(), a.numpy())
    g = onyx.Generator().manual_seed(7)
    x = onyx.randint(0, 10, (5,), generator=g)
    g.manual_seed(7)
    np.testing.assert_array_equal(onyx.randint(10, (5,), generator=g).numpy(), x.numpy())
    assert onyx.initial_seed() == 123


@pytest.mark.parametrize("fn,shape,dtype", [
    (lambda: onyx.rand(2, 3), (2, 3), "float32"),
    (lambda: onyx.rand((4,), dtype=onyx.float64), (4,), "float64"),
    (lambda: onyx.randn(2, 2, dtype=onyx.float16), (2, 2), "float16"),
    (lambda: onyx.randint(3, 9, (2, 5)), (2, 5), "int64"),
    (lambda: onyx.randint(4, (3,), dtype=onyx.int32), (3,), "int32"),
    (lambda: onyx.randperm(6), (6,), "int64"),
    (lambda: onyx.normal(2.0, 3.0, (4, 2)), (4, 2), "float32"),
    (lambda: onyx.normal(onyx.zeros(3), 1.0), (3,), "float32"),
    (lambda: onyx.normal(onyx.zeros(3, dtype=onyx.float64), onyx.ones(2, 1,
                                                                      dtype=onyx.float64)),
     (2, 3), "float64"),
    (lambda: onyx.rand_like(onyx.ones(2, dtype=onyx.float64)), (2,), "float64"),
    (lambda: onyx.randn_like(onyx.ones(3)), (3,), "float32"),
    (lambda: onyx.randint_like(onyx.ones(3), 5), (3,), "float32"),
    (lambda: onyx.bernoulli(onyx.full((3, 2), 0.5)), (3, 2), "float32"),
    (lambda: onyx.ones(2, 4).bernoulli(), (2, 4), "float32"),
    (lambda: onyx.multinomial(onyx.ones(5), 3), (3,), "int64"),
    (lambda: onyx.multinomial(onyx.ones(2, 5), 7, replacement=True), (2, 7), "int64"),
    (lambda: onyx.poisson(onyx.ones(3) * 4), (3,), "float32"),
])
def test_random_shapes_and_dtypes(fn, shape, dtype):
    out = fn()
    assert tuple(out.shape) == shape and out.dtype.name == dtype


def test_random_distributions():
    onyx.manual_seed(0)
    u = onyx.rand(20000)
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.01
    n = onyx.randn(20000)
    assert abs(n.mean().item()) < 0.03 and abs(n.std().item() - 1) < 0.03
    r = onyx.randint(-3, 4, (20000,))
    assert r.min().item() == -3 and r.max().item() == 3
    p = onyx.randperm(50)
    assert sorted(p.tolist()) == list(range(50))
    draws = onyx.multinomial(onyx.tensor([0.0, 1.0, 3.0]), 2)
    assert sorted(draws.tolist()) == [1, 2]
    many = onyx.multinomial(onyx.tensor([[0.0, 1.0, 3.0]]), 4000, replacement=True)
    assert 0 not in many.tolist()[0] and abs((many == 2).float().mean().item() - 0.75) < 0.03
    b = onyx.bernoulli(onyx.tensor([0.0, 1.0]).repeat(100))
    assert b.view(100, 2).sum(0).tolist() == [0.0, 100.0]


def test_tensor_protocols():
    x = onyx.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = copy.deepcopy(x)
    assert c is not x and c.requires_grad and np.array_equal(c.detach().numpy(),
                                                             x.detach().numpy())
    with pytest.raises(onyx.OnyxError):
        copy.deepcopy(x * 2)
    p = pickle.loads(pickle.dumps(x))
    assert p.requires_grad and p.tolist() == x.tolist()
    assert len(x) == 2 and [r.tolist() for r in x] == [[1.0, 2.0], [3.0, 4.0]]
    assert onyx.is_tensor(x) and onyx.numel(x) == 4 and x.element_size() == 4
    assert x.shape[1:] == onyx.Size([2]) and isinstance(x.shape[1:], onyx.Size)
    assert x.size() == (2, 2) and x.size(-1) == 2 and x.dim() == 2 and x.nbytes == 16
