"""``DataLoader``: batches from a dataset, in the main process or in worker processes.

Same arguments and behaviour as ``torch.utils.data.DataLoader``. With ``num_workers > 0``,
batches are loaded by worker processes ("fork" on Linux unless ``multiprocessing_context``
says otherwise) and come back in sampler order. An exception in a worker is raised in the main
process with the worker's traceback; a worker that dies raises ``WorkerError`` at once instead
of hanging; workers stop at the end of an epoch (or, with ``persistent_workers``, when the
loader is collected), when the iterator is collected, and at interpreter exit.

    >>> import onyx
    >>> from onyx.utils.data import TensorDataset
    >>> ds = TensorDataset(onyx.tensor([[1.], [2.], [3.]]), onyx.tensor([0, 1, 0]))
    >>> [y.tolist() for x, y in DataLoader(ds, batch_size=2)]
    [[0, 1], [0]]
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import multiprocessing.connection
import os
import sys
import time
import weakref
from collections.abc import Callable, Iterable

from onyx.frontend.data import worker as _worker
from onyx.frontend.data.collate import default_collate, default_convert
from onyx.frontend.data.dataset import Dataset, IterableDataset
from onyx.frontend.data.sampler import (
    BatchSampler,
    InfiniteConstantSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)
from onyx.frontend.random import Generator, default_generator

# seconds a stopping worker gets to exit before it is terminated
_JOIN_TIMEOUT_S = 5.0
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over ``dataset`` in batches (see ``torch.utils.data.DataLoader``).

    ``pin_memory`` and ``pin_memory_device`` are accepted and do nothing: tensors live in host
    memory already. ``in_order=False`` is accepted; batches still come back in order.
    """

    __initialized = False

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context=None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        prefetch_factor = _check_worker_options(num_workers, timeout, prefetch_factor,
                                                persistent_workers)
        self.dataset, self.num_workers, self.prefetch_factor = dataset, num_workers, prefetch_factor
        self.pin_memory, self.pin_memory_device, self.in_order = pin_memory, pin_memory_device, \
            in_order
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self._iterable = isinstance(dataset, IterableDataset)
        shuffle = _check_shuffle(self._iterable, shuffle, sampler, batch_sampler)
        batch_size, drop_last, sampler, batch_sampler = _samplers(
            dataset, self._iterable, batch_size, shuffle, sampler, batch_sampler, drop_last,
            generator)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self._iterator = None
        self.__initialized = True

    # ------------------------------------------------------------------ attributes
    def __setattr__(self, name, value) -> None:
        if self.__initialized and name in _FROZEN:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self.__multiprocessing_context = context

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    # ------------------------------------------------------------------ iteration
    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        return _MultiProcessIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator.is_shut_down:
                self._iterator = self._get_iterator()
            else:
                self._iterator.reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)  # TypeError when the stream has no length, as in torch
            if self.batch_size is not None:
                whole, rest = divmod(length, self.batch_size)
                length = whole if self.drop_last or not rest else whole + 1
            return length
        return len(self._index_sampler)


def _check_worker_options(num_workers: int, timeout: float, prefetch_factor: int | None,
                          persistent_workers: bool) -> int | None:
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing. "
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    if prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError("prefetch_factor option should be a positive integer")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    return prefetch_factor


def _samplers(dataset, iterable: bool, batch_size, shuffle: bool, sampler, batch_sampler,
              drop_last: bool, generator):
    """(batch_size, drop_last, sampler, batch_sampler) as the loader will use them."""
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                             "shuffle, sampler, and drop_last")
        batch_size, drop_last = None, False
    elif batch_size is None and drop_last:
        raise ValueError("batch_size=None option disables auto-batching and is mutually "
                         "exclusive with drop_last")
    if sampler is None:
        if iterable:
            sampler = InfiniteConstantSampler()
        elif shuffle:
            sampler = RandomSampler(dataset, generator=generator)
        else:
            sampler = SequentialSampler(dataset)
    if batch_size is not None and batch_sampler is None:
        batch_sampler = BatchSampler(sampler, batch_size, drop_last)
    return batch_size, drop_last, sampler, batch_sampler


def _check_shuffle(iterable: bool, shuffle, sampler, batch_sampler) -> bool:
    if iterable:
        if shuffle not in (False, None):
            raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                             f"option, but got shuffle={shuffle}")
        if sampler is not None:
            raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                             f"option, but got sampler={sampler}")
        if batch_sampler is not None:
            raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                             f"batch_sampler option, but got batch_sampler={batch_sampler}")
        return False
    shuffle = bool(shuffle)
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    return shuffle


class _BaseIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset, self._iterable = loader.dataset, loader._iterable
        self._auto_collation, self._drop_last = loader._auto_collation, loader.drop_last
        self._index_sampler, self._collate_fn = loader._index_sampler, loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        rng = (loader.generator or default_generator).numpy()
        self._base_seed = int(rng.integers(0, 2**63 - 1))
        self._num_yielded = 0

    def __iter__(self):
        return self

    def reset(self, loader: DataLoader) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")

    def _next_data(self):
        raise NotImplementedError


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._fetcher = _worker.create_fetcher(self._iterable, self._dataset,
                                               self._auto_collation, self._collate_fn,
                                               self._drop_last)

    def _next_data(self):
        index = next(self._sampler_iter)  # StopIteration ends the epoch
        return self._fetcher.fetch(index)


def _describe_exit(proc) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        import signal
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited unexpectedly with exit code {code}"


# the multi-process iterators alive, so interpreter exit can stop their workers first
_LIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_all_workers() -> None:
    for it in list(_LIVE):
        it.shutdown()



def _default_context():
    # "fork" starts workers fastest and needs no picklable dataset; it is Linux's classic default
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class _MultiProcessIter(_BaseIter):
    """Tasks go round-robin to the workers' index queues, at most ``prefetch_factor`` per
    worker in flight; results arrive on one pipe per worker and are handed out in task order.
    Waiting watches the workers' process sentinels too, so a dead worker is noticed at once."""

    is_shut_down = True  # until the workers exist, there is nothing to shut down

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._num_workers, self._prefetch = loader.num_workers, loader.prefetch_factor
        self._timeout, self._persistent = loader.timeout, loader.persistent_workers
        ctx = loader.multiprocessing_context or _default_context()
        self._owner_pid = os.getpid()
        # a plain shared byte, not an Event: a worker killed while holding an Event's lock
        # would leave the main process hanging at shutdown
        self._done = ctx.RawValue("b", 0)
        self._workers, self._index_queues, self._result_conns = [], [], []
        self._running: list[bool] = []  # False once the worker is told to exit
        self.is_shut_down = False
        try:
            for wid in range(self._num_workers):
                self._start_worker(ctx, loader, wid)
        except BaseException:
            self.shutdown()
            raise
        _LIVE.add(self)
        self.reset(loader, first_iter=True)

    def _start_worker(self, ctx, loader: DataLoader, wid: int) -> None:
        index_queue = ctx.Queue()
        index_queue.cancel_join_thread()  # never block interpreter exit on undelivered tasks
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker.worker_loop, daemon=True, args=(
            self._iterable, self._dataset, index_queue, writer, self._done,
            self._auto_collation, self._collate_fn, self._drop_last, self._base_seed,
            loader.worker_init_fn, wid, self._num_workers))
        self._index_queues.append(index_queue)
        self._result_conns.append(reader)
        proc.start()
        # only the worker may hold the write end: its death then reads as end-of-file
        writer.close()
        self._workers.append(proc)
        self._running.append(True)

    def reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super().reset(loader)
        self._send_idx = self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}
        self._active = [True] * self._num_workers  # takes tasks in this epoch
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: restart their streams and drop what the last epoch left
            for q in self._index_queues:
                q.put(_worker.ResumeIteration())
            acks = self._num_workers
            while acks:
                idx, _ = self._get_data()
                acks -= isinstance(idx, _worker.ResumeIteration)
        for _ in range(self._prefetch * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            wid = next(self._worker_cycle)
            if self._active[wid]:
                break
        else:
            return  # every worker's stream has ended
        self._index_queues[wid].put((self._send_idx, index))
        self._task_info[self._send_idx] = (wid,)
        self._send_idx += 1

    def _next_data(self):
        if self.is_shut_down:
            raise StopIteration
        while True:
            # skip tasks given to workers whose iterable stream ended before answering them
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                return self._process_data(self._task_info.pop(self._rcvd_idx)[1])
            idx, data = self._get_data()
            if isinstance(data, _worker.IterableDatasetStopIteration):
                self._active[data.worker_id] = False
                if not self._persistent:
                    self._stop_worker(data.worker_id)
                self._try_put_index()
            elif idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                return self._process_data(data)

    def _process_data(self, data):
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _get_data(self):
        """The next ``(task index, data)`` any worker sends."""
        deadline = None if self._timeout <= 0 else time.monotonic() + self._timeout
        while True:
            live = [i for i, r in enumerate(self._running) if r]
            if not live:  # cannot happen while tasks are pending; never wait on nothing
                raise _worker.WorkerError("no DataLoader worker is running")
            conns = [self._result_conns[i] for i in live]
            sentinels = {self._workers[i].sentinel: i for i in live}
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = multiprocessing.connection.wait(conns + list(sentinels), timeout=remaining)
            for obj in ready:
                if not isinstance(obj, int):
                    try:
                        return _worker.loads(obj.recv_bytes())
                    except (EOFError, OSError):
                        self._worker_failed(live[conns.index(obj)])
            for obj in ready:
                self._worker_failed(sentinels[obj])
            if not ready:
                raise _worker.WorkerError(f"DataLoader timed out after {self._timeout} seconds")

    def _worker_failed(self, wid: int):
        proc = self._workers[wid]
        proc.join(timeout=_JOIN_TIMEOUT_S)
        how = _describe_exit(proc)
        self.shutdown()
        raise _worker.WorkerError(f"DataLoader worker {wid} (pid {proc.pid}) {how}; its "
                                  f"batches are lost")

    def _stop_worker(self, wid: int) -> None:
        self._index_queues[wid].put(None)
        self._running[wid] = False

    def shutdown(self) -> None:
        """Stop the workers: ask each to exit, wait a little, then terminate stragglers."""
        if self.is_shut_down or os.getpid() != self._owner_pid:
            return  # a forked child must not touch its parent's workers
        self.is_shut_down = True
        _LIVE.discard(self)
        try:
            self._done.value = 1
            for wid, running in enumerate(self._running):
                if running:
                    self._stop_worker(wid)
            self._drain_until_exit(time.monotonic() + _JOIN_TIMEOUT_S)
        finally:
            for proc in self._workers:
                if proc.is_alive():
                    proc.terminate()
                    proc.join(timeout=_JOIN_TIMEOUT_S)
            for conn in self._result_conns:
                conn.close()
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()

    def _drain_until_exit(self, deadline: float) -> None:
        """Wait for the workers to exit, reading and dropping what they still send: a worker
        blocked on writing a batch nobody will use must be let go."""
        exiting = {p.sentinel for p in self._workers if p.is_alive()}
        conns = [c for c in self._result_conns if not c.closed]
        while exiting and time.monotonic() < deadline:
            ready = multiprocessing.connection.wait(
                [*exiting, *conns], timeout=max(0.0, deadline - time.monotonic()))
            for obj in ready:
                if isinstance(obj, int):
                    exiting.discard(obj)
                    continue
                try:
                    obj.recv_bytes()
                except (EOFError, OSError):
                    conns.remove(obj)
        for proc in self._workers:
            proc.join(timeout=0)  # reap the exited

    def __del__(self) -> None:
        self.shutdown()
