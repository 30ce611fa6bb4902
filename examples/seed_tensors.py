"""Tensors, as the seed tutorials create and use them (section 3.1 and appendix 6.2/6.3).

Run from the repository root::

    python examples/seed_tensors.py
"""

from __future__ import annotations

import numpy as np

import onyx


def show_device() -> None:
    """The tutorial picks a GPU with ``torch.cuda.set_device(id)``; do that only if one exists."""
    cuda = getattr(onyx, "cuda", None)  # onyx runs on the CPU when it has no CUDA backend
    if cuda is None:
        print("CUDA available: False (this onyx has no onyx.cuda; tensors live on the CPU)")
        return
    available = bool(cuda.is_available())
    print("CUDA available:", available)
    if available:
        cuda.set_device(0)  # like `export CUDA_VISIBLE_DEVICES=0`, but from Python


def main() -> dict:
    show_device()

    # a 2x3 matrix and a vector of length 6
    matrix = onyx.tensor([[1., 2., 3.], [4., 5., 6.]])
    vector = onyx.tensor([7, 8, 9, 10, 11, 12])
    print("matrix:", matrix, matrix.shape, matrix.dtype, sep="\n")
    print("vector:", vector, vector.shape, vector.dtype, sep="\n")

    # besides numbers of several widths, tensors hold booleans; `dtype` picks the type
    flags = onyx.tensor([True, False, True])
    halves = onyx.tensor([1, 2, 3], dtype=onyx.float16)
    print("bool:", flags, "| float16:", halves)

    # tensors and NumPy arrays agree on elementwise ops (appendix 6.3)
    a = onyx.randn((2, 3)) * 3
    b = onyx.randn((2, 3)) + 1
    c = a * b
    d = np.multiply(a.numpy(), b.numpy())
    assert all([np.allclose(c[:, i].numpy(), d[:, i]) for i in range(3)])
    print("a * b matches np.multiply:", True)

    # broadcasting: a (2, 3) matrix plus a (3,) row
    row = onyx.tensor([10., 20., 30.])
    print("matrix + row:", matrix + row, sep="\n")
    return {"matrix": matrix, "vector": vector, "product": c, "numpy_product": d}


if __name__ == "__main__":
    main()
