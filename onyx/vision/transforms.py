"""``onyx.vision.transforms``, as ``torchvision.transforms``: re-exports
``onyx.frontend.transforms``.

    >>> from onyx.vision import transforms
    >>> t = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
"""

from onyx.frontend.transforms import Compose, Lambda, Normalize, ToTensor

__all__ = ["Compose", "Lambda", "Normalize", "ToTensor"]
