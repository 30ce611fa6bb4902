"""A small CNN on scikit-learn's 8x8 digits: DataLoader with two workers, Adam, OneCycleLR.

Run from the repository root::

    python examples/digits_cnn.py            # a few seconds on two cores, ~98% test accuracy

``main(epochs=..., seed=...)`` returns the test accuracy and the mean loss of every epoch, so
tests can run it with fewer epochs. The network (``DigitsCNN``: two convolutions, max-pooling,
two linear layers) and the data set are defined in ``onyx/tools/digits.py``, shared with
``onyx demo``.
"""

from __future__ import annotations

import argparse
import time

import onyx
import onyx.nn as nn
import onyx.optim as optim
import onyx.vision.transforms as transforms
from onyx.tools.digits import DigitsCNN, digits_split  # the model and data of `onyx demo`
from onyx.utils.data import DataLoader


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    """Fraction of ``loader``'s samples that ``model`` classifies correctly."""
    model.eval()
    correct = total = 0
    with onyx.no_grad():
        for images, labels in loader:
            correct += int((model(images).argmax(dim=1) == labels).sum().item())
            total += labels.shape[0]
    model.train()
    return correct / total


def main(epochs: int = 12, seed: int = 0, batch_size: int = 64, num_workers: int = 2,
         lr: float = 1e-2, verbose: bool = True) -> dict:
    """Train and test; returns ``{"accuracy", "losses", "seconds"}``."""
    onyx.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train_set, test_set = digits_split(transform, seed=seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              num_workers=num_workers)
    test_loader = DataLoader(test_set, batch_size=256, shuffle=False)

    model = DigitsCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                              steps_per_epoch=len(train_loader))
    losses, start = [], time.perf_counter()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * labels.shape[0]
            count += labels.shape[0]
        losses.append(total / count)
        if verbose:
            print(f"epoch {epoch + 1:2d}/{epochs}  loss {losses[-1]:.4f}  "
                  f"lr {scheduler.get_last_lr()[0]:.5f}")
    accuracy = evaluate(model, test_loader)
    seconds = time.perf_counter() - start
    if verbose:
        print(f"test accuracy {accuracy:.2%} on {len(test_set)} held-out images "
              f"({seconds:.1f} s)")
    return {"accuracy": accuracy, "losses": losses, "seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(epochs=args.epochs, seed=args.seed)
