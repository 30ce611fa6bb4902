"""``onyx.nn.init``: the public name of ``onyx.frontend.nn.init``."""

from onyx.frontend.nn.init import *  # noqa: F403
from onyx.frontend.nn.init import (  # noqa: F401  (torch's old spellings, not in __all__)
    __all__,  # noqa: F401
    _calculate_correct_fan,
    _calculate_fan_in_and_fan_out,
    constant,
    dirac,
    eye,
    kaiming_normal,
    kaiming_uniform,
    normal,
    orthogonal,
    sparse,
    uniform,
    xavier_normal,
    xavier_uniform,
)
