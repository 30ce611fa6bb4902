"""Configurable size limits, checked before anything is allocated.

``onyx.ir.limits.max_tensor_bytes = 2**36`` raises the cap for one process;
``ONYX_MAX_TENSOR_BYTES`` sets it from the environment.
"""

from __future__ import annotations

import math
import os

from onyx.ir.errors import LimitError

max_tensor_bytes: int = int(os.environ.get("ONYX_MAX_TENSOR_BYTES", str(16 * 2**30)))
# If/Loop/Scan bodies inside bodies, function calls inside calls
max_nesting_depth: int = 64
max_header_bytes: int = 100 * 2**20  # serialized model size read into memory at once


def check_elements(dims, itemsize_bits: int, what: str) -> int:
    """Return the element count of ``dims`` or raise if it is negative, overflows or is too big."""
    count = 1
    for d in dims:
        d = int(d)
        if d < 0:
            raise LimitError(f"{what}: negative dimension {d} in shape {list(dims)}")
        count *= d
    nbytes = math.ceil(count * itemsize_bits / 8)
    if nbytes > max_tensor_bytes:
        raise LimitError(
            f"{what}: shape {list(dims)} needs {nbytes} bytes, over the limit of "
            f"{max_tensor_bytes} (onyx.ir.limits.max_tensor_bytes)")
    return count
