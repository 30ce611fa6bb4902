"""scikit-learn's handwritten digits (1797 8x8 images, ten classes) as an onyx ``Dataset``, and
the small CNN that ``onyx demo`` and ``examples/digits_cnn.py`` train on them.

The images ship inside scikit-learn, so nothing is downloaded. Pixels are 0..16; they are
rescaled to 0..255 bytes so that ``ToTensor`` treats them as an 8-bit image, as it would an
MNIST picture.

    >>> train, test = digits_split(transform=None, seed=0)      # doctest: +SKIP
    >>> len(train) + len(test)                                   # doctest: +SKIP
    1797
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import onyx
import onyx.nn as nn
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
    """A shuffled train/test split of the digits; the same ``seed`` gives the same split.

    Needs scikit-learn (``pip install 'onyx[demo]'``), which ships the images.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("the digits data set comes with scikit-learn: "
                          "pip install 'onyx[demo]'", name=exc.name) from None
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(len(images) * test_fraction))
    test_idx, train_idx = order[:n_test], order[n_test:]
    return (DigitsDataset(images[train_idx], digits.target[train_idx], transform),
            DigitsDataset(images[test_idx], digits.target[test_idx], transform))


class DigitsCNN(nn.Module):
    """conv16-relu-pool-conv32-relu-flatten-fc64-relu-fc10 on 1x8x8 images."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16x4x4
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),                   # 32x4x4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
        )

    def forward(self, x: onyx.Tensor) -> onyx.Tensor:
        return self.classifier(self.features(x))
