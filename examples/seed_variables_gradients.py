"""Variables and gradients, as in the seed tutorial (sections 3.2 and 3.3).

``Variable`` is the pre-0.4 wrapper: with onyx, as with torch today, it returns a plain tensor,
and ``requires_grad=True`` is what makes autograd track it.

Run from the repository root::

    python examples/seed_variables_gradients.py
"""

from __future__ import annotations

from onyx.autograd import Variable

import onyx


def main() -> dict:
    # a scalar initialised to 1.0, and a variable made from an existing tensor
    scalar = Variable(onyx.FloatTensor([1.]))
    v = Variable(onyx.randn((3, 4)))
    print("scalar:", scalar)
    print("v:", v.shape, "requires_grad:", v.requires_grad)

    # z = mean(x ** 2), so dz/dx = 2 * x / x.numel()
    x = onyx.randn(2, 2, requires_grad=True)
    y = x ** 2
    z = y.mean()  # reduce to a scalar before backward()
    print("Before backward:", z)
    z.backward()
    print("After backward:", x.grad)  # gradients accumulate into .grad

    expected = 2 * x.detach() / x.numel()
    assert onyx.allclose(x.grad, expected), (x.grad, expected)
    print("x.grad == 2 * x / 4:", True)
    return {"scalar": scalar, "v": v, "x": x, "z": z, "grad": x.grad}


if __name__ == "__main__":
    main()
