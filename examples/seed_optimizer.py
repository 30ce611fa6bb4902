"""Optimizers, as in the seed tutorial (section 3.6): a ``Net``, ``CrossEntropyLoss`` and
``SGD(model.parameters(), lr=0.01)``, then a few training steps.

The tutorial leaves ``Net`` undefined; here it is a small MLP on scikit-learn's 8x8 digits
(flattened to 64 features), trained on one fixed batch so the loss visibly goes down.

Run from the repository root::

    python examples/seed_optimizer.py
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

import onyx
import onyx.nn as nn
import onyx.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(nn.functional.relu(self.fc1(x)))


def main(steps: int = 20) -> dict:
    onyx.manual_seed(0)
    digits = load_digits()
    inputs = onyx.tensor(digits.data[:128] / 16.0, dtype=onyx.float32)
    targets = onyx.tensor(digits.target[:128])

    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01)

    losses = []
    for step in range(steps):
        optimizer.zero_grad()               # clear the gradients of the last step
        loss = criterion(model(inputs), targets)
        loss.backward()                     # compute new ones
        optimizer.step()                    # p -= lr * p.grad
        losses.append(loss.item())
        if step % 5 == 0 or step == steps - 1:
            print(f"step {step:2d}  loss {losses[-1]:.4f}")
    assert np.all(np.diff(losses) < 0), "full-batch SGD with a small step lowers the loss"
    return {"losses": losses}


if __name__ == "__main__":
    main()
