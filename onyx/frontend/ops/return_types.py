"""Named results of ops that return several tensors (``values, indices = x.max(dim=0)``)."""

from collections import namedtuple

max = namedtuple("max", ["values", "indices"])  # noqa: A001  (torch.return_types.max)
min = namedtuple("min", ["values", "indices"])  # noqa: A001
sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])
aminmax = namedtuple("aminmax", ["min", "max"])

__all__ = ["aminmax", "max", "min", "sort", "topk"]
