"""scikit-learn's handwritten digits (1797 8x8 images, ten classes) as an onyx ``Dataset``.

The set ships inside scikit-learn, so the examples need no download. Pixels are 0..16; they are
rescaled to 0..255 bytes so that ``ToTensor`` treats them as an 8-bit image, as it would an
MNIST picture.

    >>> train, test = digits_split(transform=None, seed=0)
    >>> len(train) + len(test)
    1797
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_digits

from onyx.utils.data import Dataset


class DigitsDataset(Dataset):
    """Images (``HxW`` uint8 arrays, or whatever ``transform`` makes of them) and int labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray,
                 transform: Callable | None = None) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int):
        image = self.images[idx]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[idx])


def digits_split(transform: Callable | None, seed: int = 0,
                 test_fraction: float = 0.2) -> tuple[DigitsDataset, DigitsDataset]:
    """A shuffled train/test split of the digits; the same ``seed`` gives the same split."""
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(len(images) * test_fraction))
    test_idx, train_idx = order[:n_test], order[n_test:]
    return (DigitsDataset(images[train_idx], digits.target[train_idx], transform),
            DigitsDataset(images[test_idx], digits.target[test_idx], transform))
