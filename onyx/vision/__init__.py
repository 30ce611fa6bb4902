"""``onyx.vision``: vision utilities with torchvision's module paths (``transforms``)."""

from onyx.vision import transforms

__all__ = ["transforms"]
