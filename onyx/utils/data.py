"""``onyx.utils.data``, as ``torch.utils.data``: re-exports ``onyx.frontend.data``.

    >>> from onyx.utils.data import DataLoader, TensorDataset
"""

from onyx.frontend.data import *  # noqa: F403
from onyx.frontend.data import __all__  # noqa: F401
