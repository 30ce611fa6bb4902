"""DataLoaders, as in the seed tutorial (section 3.5), without the MNIST download.

The tutorial loads MNIST through ``torchvision.datasets`` with ``download=True``; here the same
``Compose([ToTensor(), Normalize((0.5,), (0.5,))])`` pipeline and the same loaders run on
scikit-learn's 8x8 digits, which ship with scikit-learn (see ``digits.py``).

Run from the repository root::

    python examples/seed_dataloader.py
"""

from __future__ import annotations

import onyx
import onyx.vision.transforms as transforms
from onyx.utils.data import DataLoader

try:  # run as a script, examples/ is on sys.path
    from digits import digits_split
except ImportError:  # imported as examples.seed_dataloader
    from examples.digits import digits_split


def main(num_workers: int = 0) -> dict:
    onyx.manual_seed(0)
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.5,), (0.5,))])
    train_dataset, test_dataset = digits_split(transform, seed=0)

    batch_size = 100
    train_loader = DataLoader(dataset=train_dataset, batch_size=batch_size, shuffle=True,
                              num_workers=num_workers)
    test_loader = DataLoader(dataset=test_dataset, batch_size=batch_size, shuffle=False)

    print(f"train: {len(train_dataset)} images in {len(train_loader)} batches; "
          f"test: {len(test_dataset)} images in {len(test_loader)} batches")
    images, labels = next(iter(train_loader))
    # ToTensor scales bytes to [0, 1]; Normalize((0.5,), (0.5,)) maps that to [-1, 1]
    print("images:", tuple(images.shape), images.dtype,
          f"min {images.min().item():.2f} max {images.max().item():.2f}")
    print("labels:", tuple(labels.shape), labels.dtype, "first ten:", labels[:10].tolist())
    seen = sum(int(lbl.shape[0]) for _, lbl in test_loader)
    print("test images seen in one pass:", seen)
    return {"images": images, "labels": labels, "train_batches": len(train_loader),
            "test_seen": seen, "test_size": len(test_dataset)}


if __name__ == "__main__":
    main(num_workers=2)
