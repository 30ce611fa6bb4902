"""``onyx.optim``: optimizers whose updates are ONNX ops, and learning-rate schedules."""

from onyx.frontend.optim import lr_scheduler
from onyx.frontend.optim.adam import Adam, AdamW
from onyx.frontend.optim.adaptive import Adadelta, Adagrad, RMSprop
from onyx.frontend.optim.optimizer import Optimizer
from onyx.frontend.optim.sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop",
           "lr_scheduler"]
