"""``onyx.optim`` (public alias of ``onyx.frontend.optim``)."""

from onyx.frontend.optim import *  # noqa: F403
from onyx.frontend.optim import __all__  # noqa: F401
