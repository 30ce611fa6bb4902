"""Data loading (``onyx.utils.data``): datasets, samplers, collation and ``DataLoader``, with
the names, arguments and behaviour of ``torch.utils.data``.

    >>> import onyx
    >>> from onyx.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(onyx.tensor([[1., 2.], [3., 4.], [5., 6.]]), onyx.tensor([0, 1, 0]))
    >>> for x, y in DataLoader(ds, batch_size=2):
    ...     print(x.shape, y.tolist())
    onyx.Size([2, 2]) [0, 1]
    onyx.Size([1, 2]) [0]
"""

from onyx.frontend.data.collate import default_collate, default_convert
from onyx.frontend.data.dataloader import DataLoader
from onyx.frontend.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from onyx.frontend.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from onyx.frontend.data.worker import WorkerError, WorkerInfo, get_worker_info

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
           "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "WorkerError", "WorkerInfo", "default_collate", "default_convert", "get_worker_info",
           "random_split"]
