"""``nn.Module``, as in the seed tutorial (section 3.4 and appendix 6.2): a Linear(2, 3)
followed by a Sigmoid, its children, and a forward and backward pass.

Run from the repository root::

    python examples/seed_module.py
"""

from __future__ import annotations

import onyx
import onyx.nn as nn


class MyModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(2, 3)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        out = self.linear1(x)
        return self.sigmoid(out)


def main() -> dict:
    onyx.manual_seed(0)
    model = MyModule()
    print(model)
    children = list(model.children())  # the sub-modules, in the order they were assigned
    for child in children:
        print("child:", child)

    x = onyx.randn(4, 2)
    out = model(x)
    print("output:", out.shape, out, sep="\n")
    assert ((out > 0) & (out < 1)).all(), "a sigmoid's outputs lie in (0, 1)"

    out.sum().backward()
    for name, p in model.named_parameters():
        print(f"{name}: shape {tuple(p.shape)}, grad shape {tuple(p.grad.shape)}")
    return {"model": model, "children": children, "output": out}


if __name__ == "__main__":
    main()
