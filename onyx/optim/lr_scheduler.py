"""``onyx.optim.lr_scheduler`` (public alias of ``onyx.frontend.optim.lr_scheduler``)."""

from onyx.frontend.optim.lr_scheduler import (
                                              CosineAnnealingLR,
                                              ExponentialLR,
                                              LambdaLR,
                                              LRScheduler,
                                              MultiStepLR,
                                              OneCycleLR,
                                              ReduceLROnPlateau,
                                              StepLR,
                                              _LRScheduler,
)

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "MultiStepLR",
           "OneCycleLR", "ReduceLROnPlateau", "StepLR", "_LRScheduler"]
