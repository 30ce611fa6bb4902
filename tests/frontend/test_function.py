"""Custom autograd functions (onyx.autograd.Function) against torch.autograd.Function, and
gradcheck / gradgradcheck catching wrong gradients."""

import numpy as np
import pytest
import torch

import onyx
from onyx.frontend.autograd import Function, gradcheck, gradgradcheck, once_differentiable


def _make(lib):
    class Softsign(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x / (x.abs() + 1) * scale

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            d = x.abs() + 1
            return g * ctx.scale / (d * d), None
    return Softsign


def test_matches_torch_function():
    data = np.array([-1.5, 0.2, 3.0])
    x = onyx.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    y = _make(onyx).apply(x, 2.0)
    ty = _make(torch).apply(tx, 2.0)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    assert repr(y.grad_fn) == "<SoftsignBackward>"
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_gradcheck_and_double_backward():
    x = onyx.tensor([-1.5, 0.2, 3.0], dtype=onyx.float64, requires_grad=True)
    fn = _make(onyx)
    assert gradcheck(lambda t: fn.apply(t, 0.5), (x,))
    assert gradgradcheck(lambda t: fn.apply(t, 0.5), (x,))


class TwoOutputs(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.mark_non_differentiable(y)
        return x * 2, y

    @staticmethod
    def backward(ctx, gx, gy):
        assert gy is not None  # materialized as zeros
        return gx * 2, None


def test_needs_input_grad_and_non_differentiable_outputs():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen.append(ctx.needs_input_grad)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    a = onyx.tensor([1.0], requires_grad=True)
    Probe.apply(a, onyx.tensor([2.0]), 3)
    assert seen == [(True, False, False)]
    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    y = onyx.tensor([5.0, 6.0], requires_grad=True)
    out, same = TwoOutputs.apply(x, y)
    assert out.requires_grad and not same.requires_grad and same is not y
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    assert y.grad is None


def test_materialize_grads_off_passes_none():
    got = []

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            got.append((g1 is None, g2 is None))
            return g1 if g2 is None else g1 + g2 * 2

    x = onyx.tensor([1.0], requires_grad=True)
    a, _ = Split.apply(x)
    a.sum().backward()
    assert got == [(False, True)]
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_inplace_change_of_saved_tensor_raises():
    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = _make(onyx).apply(h, 1.0)
    h._version.value += 1        # what an in-place op on h does
    with pytest.raises(onyx.OnyxError, match="in-place"):
        y.sum().backward()


def test_once_differentiable_refuses_double_backward():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x

    x = onyx.tensor([3.0], requires_grad=True)
    (g,) = onyx.autograd.grad(Square.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [6.0])
    (g,) = onyx.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    with pytest.raises(onyx.OnyxError, match="once_differentiable"):
        g.sum().backward()


def test_backward_results_are_checked():
    class WrongCount(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return onyx.tensor([1.0, 2.0, 3.0])

    class Broadcast(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return onyx.tensor([[1.0, 2.0], [3.0, 4.0]])

    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(onyx.OnyxError, match="expected 1"):
        WrongCount.apply(x).sum().backward()
    with pytest.raises(onyx.OnyxError, match="invalid gradient at index 0"):
        WrongShape.apply(x).sum().backward()
    Broadcast.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 6.0])


def test_identity_forward_and_setup_context():
    class Passthrough(Function):
        @staticmethod
        def forward(x):
            return x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.factor = 3.0

        @staticmethod
        def backward(ctx, g):
            return g * ctx.factor

    x = onyx.tensor([1.0, 2.0], requires_grad=True)
    y = Passthrough.apply(x)
    assert y is not x and x.grad_fn is None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_no_record_without_grad():
    fn = _make(onyx)
    y = fn.apply(onyx.tensor([1.0]), 1.0)
    assert y.grad_fn is None and not y.requires_grad
    with onyx.no_grad():
        z = fn.apply(onyx.tensor([1.0], requires_grad=True), 1.0)
    assert z.grad_fn is None
    with pytest.raises(onyx.OnyxError, match="apply"):
        fn()


# ---------------------------------------------------------------------- gradcheck itself
class WrongSquare(Function):
    """x * x with a backward that is off by a factor on the second input."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * x + y

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors
        return g * 2 * x, g * 3


def test_gradcheck_names_the_input_and_the_difference():
    x = onyx.tensor([0.5, -1.0], dtype=onyx.float64, requires_grad=True)
    y = onyx.tensor([2.0], dtype=onyx.float64, requires_grad=True)
    with pytest.raises(onyx.autograd.GradcheckError, match=r"input 1 .*max difference"):
        gradcheck(WrongSquare.apply, (x, y))
    assert gradcheck(WrongSquare.apply, (x, y), raise_exception=False) is False
    assert gradcheck(WrongSquare.apply, (x, y), raise_exception=False, fast_mode=True) is False
    assert gradcheck(lambda a: WrongSquare.apply(a, y.detach()), (x,), fast_mode=True)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class FlatBackward(Function):   # x^3 whose backward 3 x^2 is built from a constant
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * onyx.tensor(3 * x.detach().numpy() ** 2)

    x = onyx.tensor([0.5, -1.5], dtype=onyx.float64, requires_grad=True)
    assert gradcheck(FlatBackward.apply, (x,))
    with pytest.raises(onyx.OnyxError, match="input 0"):
        gradgradcheck(FlatBackward.apply, (x,))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(onyx.OnyxError, match="requires_grad"):
        gradcheck(lambda a: a * 2, (onyx.tensor([1.0], dtype=onyx.float64),))
