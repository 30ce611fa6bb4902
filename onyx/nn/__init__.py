"""``onyx.nn``: the public name of ``onyx.frontend.nn`` (re-exports only).

    >>> from onyx import nn
    >>> import onyx.nn.functional as F
"""

from onyx.frontend.nn import *  # noqa: F403
from onyx.frontend.nn import __all__  # noqa: F401
from onyx.nn import functional, init, utils  # noqa: F401  (onyx.nn.functional, ...)
