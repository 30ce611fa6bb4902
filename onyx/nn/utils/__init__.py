"""``onyx.nn.utils``: the public name of ``onyx.frontend.nn.utils``."""

from onyx.frontend.nn.utils import *  # noqa: F403
from onyx.frontend.nn.utils import __all__  # noqa: F401
