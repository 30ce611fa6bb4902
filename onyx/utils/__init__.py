"""``onyx.utils``: utilities with torch's module paths (``onyx.utils.data``)."""

from onyx.utils import data

__all__ = ["data"]
