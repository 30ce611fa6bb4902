"""What runs in a ``DataLoader`` worker process, and what it sends back.

A worker reads ``(task index, sampler indices)`` from its index queue, fetches and collates the
samples, and writes ``(task index, batch)`` to its own result pipe, pickled in the worker (so an
unpicklable batch becomes an error the main process sees instead of a silent loss). Tensors
travel as their NumPy arrays; nothing else of a tensor is pickled. A failure becomes an
``ExceptionWrapper`` carrying the worker's traceback text, raised again in the main process.

    >>> get_worker_info() is None   # in the main process
    True
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

from onyx.frontend.random import default_generator
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

# how often an idle worker checks that the main process is alive and still wants it
WATCHDOG_INTERVAL_S = 0.25


class WorkerError(OnyxError, RuntimeError):
    """A ``DataLoader`` worker died, or a batch took longer than ``timeout``."""


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``
    and ``dataset`` (this worker's copy)."""

    __initialized = False

    def __init__(self, **kwargs) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, value) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, value)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__keys)
        return f"{type(self).__name__}({fields})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's ``WorkerInfo`` in a ``DataLoader`` worker process, ``None`` elsewhere.

    An ``IterableDataset`` uses it to give each worker its own shard::

        info = get_worker_info()
        start = 0 if info is None else info.id
        step = 1 if info is None else info.num_workers
        yield from range(start, n, step)
    """
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker: its type and traceback text, raised again by
    ``reraise`` in the main process."""

    def __init__(self, where: str = "in background") -> None:
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type if _picklable(exc_type) else RuntimeError
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            # KeyError quotes its message; wrap it so the newlines still print as newlines
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # the exception type needs other constructor arguments
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    def __repr__(self) -> str:
        return str(self)


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


# ----------------------------------------------------------------------------- pickling
def _rebuild_tensor(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor._wrap(array, requires_grad)


def _reduce_tensor(t: Tensor):
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, "
                           "since autograd does not support crossing process boundaries. "
                           "Call .detach() on the tensor before sending it.")
    return _rebuild_tensor, (t._data, t.requires_grad)


# Datasets handed to "spawn" workers are pickled by multiprocessing: send tensors as arrays
ForkingPickler.register(Tensor, _reduce_tensor)


class _TensorPickler(pickle.Pickler):
    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[Tensor] = _reduce_tensor


def dumps(obj) -> bytes:
    buf = io.BytesIO()
    _TensorPickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def loads(blob: bytes):
    return pickle.loads(blob)


# ----------------------------------------------------------------------------- fetchers
class MapDatasetFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset, self.auto_collation = dataset, auto_collation
        self.collate_fn, self.drop_last = collate_fn, drop_last

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(data)


class IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def create_fetcher(iterable: bool, dataset, auto_collation: bool, collate_fn, drop_last: bool):
    kind = IterableDatasetFetcher if iterable else MapDatasetFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)


# ----------------------------------------------------------------------------- worker loop
class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch; echoed back as the ack."""


class IterableDatasetStopIteration:
    """A worker's iterable dataset is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


def _seed_worker(seed: int, worker_id: int, base_seed: int) -> None:
    random.seed(seed)
    default_generator.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))


def _send(conn, idx, data, worker_id: int) -> None:
    try:
        blob = dumps((idx, data))
    except Exception:  # an unpicklable batch: tell the main process why
        blob = dumps((idx, ExceptionWrapper(f"in DataLoader worker process {worker_id} while "
                                            f"sending its batch")))
    conn.send_bytes(blob)


class _Server:
    """A worker's answers to tasks: fetched batches, or what went wrong, as data to send."""

    def __init__(self, iterable: bool, dataset, auto_collation: bool, collate_fn,
                 drop_last: bool, init_fn, worker_id: int) -> None:
        self.iterable, self.worker_id = iterable, worker_id
        self.where = f"in DataLoader worker process {worker_id}"
        self._args = (iterable, dataset, auto_collation, collate_fn, drop_last)
        self.fetcher = self.error = None
        self.iteration_end = False
        try:
            if init_fn is not None:
                init_fn(worker_id)
            self.fetcher = create_fetcher(*self._args)
        except Exception:  # reported as the answer to the first task
            self.error = ExceptionWrapper(self.where)

    def restart(self) -> None:
        """A new epoch for a persistent worker: a fresh stream over the dataset."""
        self.iteration_end = False
        try:
            self.fetcher = create_fetcher(*self._args)
        except Exception:
            self.error = ExceptionWrapper(self.where)

    def answer(self, index):
        if self.error is not None:
            data, self.error = self.error, None
            return data
        try:
            return self.fetcher.fetch(index)
        except StopIteration:
            if not self.iterable:
                return ExceptionWrapper(self.where)
            self.iteration_end = True
            return IterableDatasetStopIteration(self.worker_id)
        except Exception:
            return ExceptionWrapper(self.where)


def worker_loop(iterable: bool, dataset, index_queue, result_conn, done_flag,
                auto_collation: bool, collate_fn, drop_last: bool, base_seed: int, init_fn,
                worker_id: int, num_workers: int) -> None:
    """The body of a worker process (the target of ``multiprocessing.Process``).

    ``done_flag`` is a lock-free shared byte the main process sets at shutdown. The worker
    also stops on a ``None`` task, but does not rely on it alone: a queue collected with its
    loader may never deliver it."""
    global _worker_info
    seed = base_seed + worker_id
    _seed_worker(seed, worker_id, base_seed)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    server = _Server(iterable, dataset, auto_collation, collate_fn, drop_last, init_fn,
                     worker_id)
    parent = os.getppid()
    try:
        while True:
            try:
                task = index_queue.get(timeout=WATCHDOG_INTERVAL_S)
            except queue.Empty:
                if done_flag.value or os.getppid() != parent:  # nobody to serve any more
                    break
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                server.restart()
                _send(result_conn, task, None, worker_id)
            elif not (done_flag.value or server.iteration_end):
                _send(result_conn, task[0], server.answer(task[1]), worker_id)
            del task  # free the indices before waiting for the next task
    except (KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        pass  # the main process is interrupted or gone; it reports what happened
    finally:
        result_conn.close()
