"""scikit-learn's handwritten digits as an onyx ``Dataset`` (``digits_split``), for the examples.

The data set class lives in ``onyx.tools.digits`` because ``onyx demo`` trains on it too.

    >>> train, test = digits_split(transform=None, seed=0)
    >>> len(train) + len(test)
    1797
"""

from onyx.tools.digits import DigitsDataset, digits_split

__all__ = ["DigitsDataset", "digits_split"]
