"""``onyx.nn.functional``: the public name of ``onyx.frontend.nn.functional``."""

from onyx.frontend.nn.functional import *  # noqa: F403
from onyx.frontend.nn.functional import __all__  # noqa: F401
