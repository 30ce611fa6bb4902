"""onyx.utils.data and onyx.vision.transforms against torch.utils.data on the same structures."""

import collections
import gc
import os
import signal
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import onyx
import onyx.utils.data as odata
from onyx.frontend.random import Generator, manual_seed
from onyx.utils.data import DataLoader, get_worker_info
from onyx.vision import transforms

Point = collections.namedtuple("Point", ["x", "y"])


def _plain(obj):
    """Both libraries' outputs as comparable plain data: tensors -> (dtype name, values)."""
    if isinstance(obj, torch.Tensor):
        return ("tensor", str(obj.dtype).split(".")[-1], obj.numpy().tolist())
    if isinstance(obj, onyx.Tensor):
        return ("tensor", obj.dtype.name, obj._data.tolist())
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: _plain(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return (type(obj).__name__, [_plain(v) for v in obj])
    return obj


def _both(array: np.ndarray):
    return onyx.from_numpy(array.copy()), torch.from_numpy(array.copy())


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) % 3
    (ox, tx), (oy, ty) = _both(x), _both(y)
    return odata.TensorDataset(ox, oy), tdata.TensorDataset(tx, ty)


# ------------------------------------------------------------------------------- datasets
def test_tensor_dataset_subset_concat_and_stack_match_torch():
    ods, tds = _xy(6)
    assert len(ods) == len(tds) == 6
    assert _plain(ods[4]) == _plain(tds[4])
    pairs = [(odata.Subset(ods, [5, 0, 3]), tdata.Subset(tds, [5, 0, 3])),
             (odata.ConcatDataset([ods, ods]), tdata.ConcatDataset([tds, tds])),
             (ods + ods, tds + tds),
             (odata.StackDataset(a=ods, b=ods), tdata.StackDataset(a=tds, b=tds))]
    for o, t in pairs:
        assert len(o) == len(t)
        for i in list(range(len(t))) + [-1, -len(t)]:
            assert _plain(o[i]) == _plain(t[i])
    with pytest.raises(IndexError):
        pairs[1][0][12]
    with pytest.raises(ValueError):
        odata.TensorDataset(onyx.zeros(3), onyx.zeros(4))


def test_iterable_datasets_chain():
    class Stream(odata.IterableDataset):
        def __init__(self, items):
            self.items = items

        def __iter__(self):
            return iter(self.items)
    assert list(Stream([1, 2]) + Stream([3])) == [1, 2, 3]
    with pytest.raises(TypeError):
        odata.ConcatDataset([Stream([1])])


@pytest.mark.parametrize("n,lengths", [(10, [7, 3]), (10, [0.7, 0.3]), (5, [0.5, 0.5]),
                                       (10, [0.33, 0.33, 0.34]), (7, [1 / 3] * 3), (4, [4, 0])])
def test_random_split_sizes_match_torch_and_cover_the_dataset(n, lengths):
    ours = odata.random_split(range(n), lengths, generator=Generator().manual_seed(1))
    theirs = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert sorted(i for p in ours for i in p) == list(range(n))
    again = odata.random_split(range(n), lengths, generator=Generator().manual_seed(1))
    assert [list(p) for p in again] == [list(p) for p in ours]


def test_random_split_is_seeded_and_checks_lengths():
    a = odata.random_split(range(100), [50, 50], generator=Generator().manual_seed(0))
    b = odata.random_split(range(100), [50, 50], generator=Generator().manual_seed(1))
    assert list(a[0]) != list(b[0])
    manual_seed(3)
    c = odata.random_split(range(100), [50, 50])
    manual_seed(3)
    assert list(odata.random_split(range(100), [50, 50])[0]) == list(c[0])
    with pytest.warns(UserWarning, match="index 1 is 0"):
        odata.random_split(range(2), [0.9, 0.1])
    for lib in (odata, tdata):
        with pytest.raises(ValueError):
            lib.random_split(range(10), [3, 3])
        with pytest.raises(ValueError):
            lib.random_split(range(10), [1.5, -0.5])


# ------------------------------------------------------------------------------- samplers
def test_sequential_and_batch_samplers_match_torch():
    assert list(odata.SequentialSampler(range(7))) == list(tdata.SequentialSampler(range(7)))
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (0, 2, False)]:
        ours = odata.BatchSampler(odata.SequentialSampler(range(n)), bs, drop)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("args", [(0, False), (2.0, False), (True, False), (2, 1)], ids=str)
def test_batch_sampler_argument_errors_match_torch(args):
    for lib in (odata, tdata):
        with pytest.raises(ValueError):
            lib.BatchSampler(range(4), *args)


@pytest.mark.parametrize("kwargs", [{}, {"num_samples": 25}, {"num_samples": 4},
                                    {"replacement": True}, {"replacement": True,
                                                            "num_samples": 70}], ids=str)
def test_random_sampler_shape_and_determinism(kwargs):
    n = 10
    ours = list(odata.RandomSampler(range(n), generator=Generator().manual_seed(5), **kwargs))
    theirs = list(tdata.RandomSampler(range(n), **kwargs))
    assert len(ours) == len(theirs) == len(odata.RandomSampler(range(n), **kwargs))
    assert all(0 <= i < n for i in ours)
    if not kwargs.get("replacement"):
        # whole permutations first, then a partial one, as torch
        for start in range(0, len(ours) - len(ours) % n, n):
            assert sorted(ours[start:start + n]) == list(range(n))
        assert len(set(ours[len(ours) - len(ours) % n:])) == len(ours) % n
    again = list(odata.RandomSampler(range(n), generator=Generator().manual_seed(5), **kwargs))
    assert again == ours


def test_random_sampler_without_generator_follows_manual_seed():
    manual_seed(7)
    a = list(odata.RandomSampler(range(50)))
    manual_seed(7)
    assert list(odata.RandomSampler(range(50))) == a
    assert a != list(range(50))


@pytest.mark.parametrize("kwargs,exc", [({"replacement": 1}, TypeError),
                                        ({"num_samples": 0}, ValueError),
                                        ({"num_samples": 2.5}, ValueError)], ids=str)
def test_random_sampler_errors_match_torch(kwargs, exc):
    for lib in (odata, tdata):
        with pytest.raises(exc):
            lib.RandomSampler(range(4), **kwargs)


def test_subset_random_sampler():
    idx = [3, 9, 4, 12]
    s = odata.SubsetRandomSampler(idx, generator=Generator().manual_seed(0))
    first = list(s)
    assert sorted(first) == sorted(idx) and len(s) == 4
    assert list(odata.SubsetRandomSampler(idx, generator=Generator().manual_seed(0))) == first


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0, 2.0]
    g = Generator().manual_seed(0)
    drawn = list(odata.WeightedRandomSampler(w, 3000, generator=g))
    assert set(drawn) == {1, 2, 4} and len(drawn) == 3000
    counts = np.bincount(drawn, minlength=5) / 3000
    np.testing.assert_allclose(counts, np.array(w) / 6, atol=0.04)
    no_repl = list(odata.WeightedRandomSampler(onyx.tensor(w), 3, replacement=False,
                                               generator=g))
    assert sorted(no_repl) == [1, 2, 4]
    s = odata.WeightedRandomSampler(w, 10, generator=Generator().manual_seed(4))
    assert list(s) == list(odata.WeightedRandomSampler(w, 10, generator=Generator().manual_seed(4)))
    for lib in (odata, tdata):
        with pytest.raises(ValueError):
            lib.WeightedRandomSampler(w, 0)
        with pytest.raises(ValueError):
            lib.WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError):
        odata.WeightedRandomSampler(w, 4, replacement=False)


# ------------------------------------------------------------------------------- collate
def _collate_cases():
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    return {
        "float32": [a for a in arrs],
        "int64_bool": [(np.array([i, 2 * i]), np.array([i % 2 == 0])) for i in range(3)],
        "np_scalars": [(np.float32(i), np.float64(i), np.int32(i), np.bool_(i)) for i in range(3)],
        "py_numbers": [(i, float(i) / 2, bool(i % 2)) for i in range(3)],
        "mixed_int_float": [1, 2.5, 3],
        "strings": [("a", b"x"), ("b", b"y")],
        "dicts": [{"img": arrs[i], "label": i, "meta": {"name": f"s{i}", "w": [1.0, 2.0]}}
                  for i in range(3)],
        "namedtuple": [Point(np.array([i]), i) for i in range(3)],
        "lists": [[np.array([i]), [i, i + 1]] for i in range(2)],
        "ordered": [collections.OrderedDict([("b", i), ("a", float(i))]) for i in range(2)],
    }


def _to_lib(obj, lib):
    """The same sample with NumPy arrays made into ``lib`` tensors."""
    if isinstance(obj, np.ndarray):
        return onyx.from_numpy(obj) if lib is onyx else torch.from_numpy(obj)
    if isinstance(obj, Point):
        return Point(*(_to_lib(v, lib) for v in obj))
    if isinstance(obj, dict):
        return type(obj)((k, _to_lib(v, lib)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_to_lib(v, lib) for v in obj)
    return obj


@pytest.mark.parametrize("name", list(_collate_cases()))
@pytest.mark.parametrize("as_tensors", [False, True], ids=["numpy", "tensors"])
def test_default_collate_matches_torch(name, as_tensors):
    batch = _collate_cases()[name]
    ours = [_to_lib(b, onyx) for b in batch] if as_tensors else batch
    theirs = [_to_lib(b, torch) for b in batch] if as_tensors else batch
    assert _plain(odata.default_collate(ours)) == _plain(tdata.default_collate(theirs))
    assert _plain(odata.default_convert(ours)) == _plain(tdata.default_convert(theirs))


def test_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        odata.default_collate([onyx.zeros(2), onyx.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        odata.default_collate([[1, 2], [1]])
    for lib in (odata, tdata):
        with pytest.raises(TypeError):
            lib.default_collate([object(), object()])
        with pytest.raises(TypeError):
            lib.default_collate([np.array(["a"]), np.array(["b"])])


@pytest.mark.skipif(not hasattr(onyx, "stack"), reason="needs onyx.stack")
def test_collate_keeps_autograd_when_samples_require_grad():
    w = onyx.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    (batch,) = next(iter(DataLoader(odata.TensorDataset(w), batch_size=2)))
    batch.sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


def test_collate_promotes_mixed_dtypes_like_torch():
    ours = odata.default_collate([onyx.tensor([1], dtype=onyx.int32), onyx.tensor([1.5])])
    theirs = tdata.default_collate([torch.tensor([1], dtype=torch.int32), torch.tensor([1.5])])
    assert _plain(ours) == _plain(theirs)


# ------------------------------------------------------------------------------- DataLoader
def _batches(loader):
    return [_plain(b) for b in loader]


@pytest.mark.parametrize("kwargs", [{}, {"batch_size": 3}, {"batch_size": 4, "drop_last": True},
                                    {"batch_size": 20}, {"batch_size": None}], ids=str)
def test_sequential_loading_matches_torch_exactly(kwargs):
    ods, tds = _xy(10)
    ours, theirs = DataLoader(ods, **kwargs), tdata.DataLoader(tds, **kwargs)
    assert len(ours) == len(theirs)
    assert _batches(ours) == _batches(theirs)


def test_dict_samples_and_custom_samplers_match_torch():
    class Records:
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "y": i, "name": f"r{i}"}
    order = [6, 0, 5, 1, 4]
    for kwargs in [{"batch_size": 2}, {"batch_size": 2, "sampler": order},
                   {"batch_sampler": [[1, 2], [0], [6, 5, 4]]}]:
        ours, theirs = DataLoader(Records(), **kwargs), tdata.DataLoader(Records(), **kwargs)
        assert _batches(ours) == _batches(theirs)


@pytest.mark.parametrize("kwargs", [
    {"batch_sampler": [[0]], "batch_size": 2}, {"batch_sampler": [[0]], "shuffle": True},
    {"batch_sampler": [[0]], "drop_last": True}, {"sampler": [0], "shuffle": True},
    {"batch_size": None, "drop_last": True}, {"num_workers": -1}, {"timeout": -1},
    {"prefetch_factor": 2}, {"persistent_workers": True},
    {"multiprocessing_context": "fork"},
    {"num_workers": 1, "multiprocessing_context": "no-such-method"},
], ids=str)
def test_option_errors_match_torch(kwargs):
    ods, tds = _xy(4)
    with pytest.raises(ValueError):
        tdata.DataLoader(tds, **kwargs)
    with pytest.raises(ValueError):
        DataLoader(ods, **kwargs)


def test_loader_attributes_are_frozen_after_init():
    loader = DataLoader(_xy(4)[0], batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.num_workers = 0  # not frozen, as in torch


def test_shuffle_is_seeded_by_the_generator():
    ods, _ = _xy(20)

    def order(seed, epochs=1):
        loader = DataLoader(ods, batch_size=6, shuffle=True,
                            generator=Generator().manual_seed(seed))
        return [[int(v) for b in loader for v in b[0]._data[:, 0] // 3] for _ in range(epochs)]
    first = order(0, epochs=2)
    assert first == order(0, epochs=2)
    assert sorted(first[0]) == list(range(20)) and first[0] != list(range(20))
    assert first[0] != first[1]  # the generator moves on between epochs
    assert first[0] != order(1)[0]


class RangeStream(odata.IterableDataset):
    """0..n-1, split across workers with get_worker_info as torch's docs show."""

    info_fn = staticmethod(get_worker_info)

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = self.info_fn()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(np.arange(start, self.n, step))

    def __len__(self):
        return self.n


class TorchRangeStream(tdata.IterableDataset):
    info_fn = staticmethod(tdata.get_worker_info)
    __init__, __iter__, __len__ = RangeStream.__init__, RangeStream.__iter__, RangeStream.__len__


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kwargs", [{"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                                    {"batch_size": None}], ids=str)
def test_iterable_dataset_matches_torch(kwargs, workers):
    ours = DataLoader(RangeStream(11), num_workers=workers, **kwargs)
    theirs = tdata.DataLoader(TorchRangeStream(11), num_workers=workers, **kwargs)
    assert _batches(ours) == _batches(theirs)
    assert len(ours) == len(theirs)
    with pytest.raises(ValueError):
        DataLoader(RangeStream(3), shuffle=True)


# ------------------------------------------------------------------------------- workers
class Probe(odata.Dataset):
    """Samples that say who loaded them; some indices misbehave on purpose."""

    def __init__(self, n=12, fail_at=None, exit_at=None, kill_at=None, sleep_at=None):
        self.n, self.fail_at, self.exit_at = n, fail_at, exit_at
        self.kill_at, self.sleep_at, self.init_id = kill_at, sleep_at, -1

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        if i == self.fail_at:
            raise ValueError(f"sample {i} is broken")
        if info is not None and i == self.exit_at:
            os._exit(3)
        if info is not None and i == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if i == self.sleep_at:
            time.sleep(0.5)
        wid = -1 if info is None else info.id
        return {"i": i, "x": onyx.tensor([float(i)] * 2), "worker": wid, "pid": os.getpid(),
                "init": self.init_id, "rand": float(np.random.random())}


def _fields(loader, *keys):
    return [{k: _plain(b[k]) for k in keys} for b in loader]


@pytest.mark.parametrize("kwargs", [{"batch_size": 4}, {"batch_size": None},
                                    {"batch_size": 5, "shuffle": True, "drop_last": True}],
                         ids=str)
def test_workers_give_the_same_batches_as_the_main_process(kwargs):
    ods, _ = _xy(23)

    def run(workers):
        g = Generator().manual_seed(11) if kwargs.get("shuffle") else None
        return _batches(DataLoader(ods, num_workers=workers, generator=g, **kwargs))
    assert run(2) == run(0)


def test_spawn_context_works():
    ods, _ = _xy(9)
    loader = DataLoader(ods, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert _batches(loader) == _batches(DataLoader(ods, batch_size=4))


def test_worker_info_and_seeds():
    assert get_worker_info() is None
    loader = DataLoader(Probe(8), batch_size=2, num_workers=2,
                        generator=Generator().manual_seed(0))
    batches = list(loader)
    assert [b["worker"].tolist() for b in batches] == [[0, 0], [1, 1], [0, 0], [1, 1]]
    assert len({b["pid"].tolist()[0] for b in batches} - {os.getpid()}) == 2
    # each worker seeds NumPy differently, and the same generator seed repeats the draws
    assert batches[0]["rand"].tolist() != batches[1]["rand"].tolist()
    again = list(DataLoader(Probe(8), batch_size=2, num_workers=2,
                            generator=Generator().manual_seed(0)))
    assert [b["rand"].tolist() for b in again] == [b["rand"].tolist() for b in batches]


def _remember_init(worker_id):
    get_worker_info().dataset.init_id = worker_id * 10 + get_worker_info().id


def test_worker_init_fn_runs_once_in_each_worker():
    loader = DataLoader(Probe(8), batch_size=2, num_workers=2, worker_init_fn=_remember_init)
    seen = {(b["worker"].tolist()[0], b["init"].tolist()[0]) for b in loader}
    assert seen == {(0, 0), (1, 11)}


def test_worker_exception_is_raised_with_its_traceback():
    loader = DataLoader(Probe(8, fail_at=5), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it)["i"].tolist() == [0, 1] and next(it)["i"].tolist() == [2, 3]
    with pytest.raises(ValueError) as err:
        next(it)
    text = str(err.value)
    assert "Caught ValueError in DataLoader worker process 0" in text
    assert "Traceback (most recent call last)" in text and "__getitem__" in text
    assert "sample 5 is broken" in text
    assert next(it)["i"].tolist() == [6, 7]  # the loader goes on, as torch's does


def test_unpicklable_batch_is_reported():
    loader = DataLoader(Probe(4), batch_size=2, num_workers=1, collate_fn=lambda b: lambda: b)
    with pytest.raises(Exception, match="worker process 0 while sending its batch"):
        next(iter(loader))


@pytest.mark.parametrize("how", ["exit_at", "kill_at"])
def test_a_dead_worker_raises_instead_of_hanging(how):
    loader = DataLoader(Probe(12, **{how: 5}), batch_size=2, num_workers=2)
    start = time.monotonic()
    with pytest.raises(odata.WorkerError, match="exit code 3|SIGKILL") as err:
        list(loader)
    assert isinstance(err.value, RuntimeError) and isinstance(err.value, onyx.OnyxError)
    assert time.monotonic() - start < 10


def test_timeout_raises():
    loader = DataLoader(Probe(4, sleep_at=0), batch_size=2, num_workers=1, timeout=0.1)
    with pytest.raises(odata.WorkerError, match="timed out after 0.1 seconds"):
        next(iter(loader))


def _wait_dead(procs, limit=10.0):
    deadline = time.monotonic() + limit
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(p.is_alive() for p in procs)


def test_workers_stop_at_the_end_and_on_break():
    ods, _ = _xy(20)
    it = iter(DataLoader(ods, batch_size=2, num_workers=2))
    procs = list(it._workers)
    assert all(p.is_alive() for p in procs)
    list(it)
    assert _wait_dead(procs)

    it = iter(DataLoader(ods, batch_size=2, num_workers=2))
    procs = list(it._workers)
    for _ in it:
        break
    del it
    gc.collect()
    assert _wait_dead(procs)


def test_persistent_workers_are_reused_across_epochs():
    loader = DataLoader(Probe(6), batch_size=2, num_workers=2, persistent_workers=True)
    epochs = [_fields(loader, "i", "pid") for _ in range(3)]
    assert epochs[0] == epochs[1] == epochs[2]
    it = loader._iterator
    half = iter(loader)
    assert half is it and next(half)["i"].tolist() == [0, 1]  # break off mid-epoch ...
    assert _fields(loader, "i", "pid") == epochs[0]  # ... and the next epoch starts clean
    procs = list(it._workers)
    assert all(p.is_alive() for p in procs)
    fresh = DataLoader(Probe(6), batch_size=2, num_workers=2)
    assert _fields(fresh, "pid") != _fields(fresh, "pid")  # new workers every epoch
    del loader, it, half
    gc.collect()
    assert _wait_dead(procs)


def test_persistent_iterable_workers_restart_their_streams():
    loader = DataLoader(RangeStream(7), batch_size=2, num_workers=2, persistent_workers=True)
    first = _batches(loader)
    assert _batches(loader) == first
    assert sorted(v for b in first for v in b[2]) == list(range(7))


# ------------------------------------------------------------------------------- transforms
def test_to_tensor_and_normalize():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    t = transforms.ToTensor()(img)
    assert t.dtype is onyx.float32 and t.shape == (3, 4, 5)
    np.testing.assert_array_equal(t._data, img.transpose(2, 0, 1).astype(np.float32) / 255)
    gray = transforms.ToTensor()(img[:, :, 0])
    assert gray.shape == (1, 4, 5)
    raw = transforms.ToTensor()(img.astype(np.float64))  # non-uint8: kept, not scaled
    assert raw.dtype is onyx.float64 and raw._data.max() > 1
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.5]
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std),
                                   transforms.Lambda(lambda x: x * 2)])
    expected = (t._data - np.array(mean, np.float32)[:, None, None]) / \
        np.array(std, np.float32)[:, None, None] * 2
    np.testing.assert_allclose(pipeline(img)._data, expected, rtol=1e-6)
    assert "Normalize(mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.5])" in repr(pipeline)
    same = transforms.Normalize(mean, std, inplace=True)(t)
    assert same is t and t._version.value == 1
    np.testing.assert_allclose(t._data * 2, expected, rtol=1e-6)


def test_transform_errors():
    with pytest.raises(TypeError):
        transforms.ToTensor()([[1, 2]])
    with pytest.raises(ValueError):
        transforms.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))
    with pytest.raises(TypeError, match="float tensor"):
        transforms.Normalize([0.5], [0.5])(onyx.zeros(1, 2, 2, dtype=onyx.int64))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        transforms.Normalize([0.5], [0.0])(onyx.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="tensor image"):
        transforms.Normalize([0.5], [0.5])(onyx.zeros(2, 2))
    with pytest.raises(TypeError):
        transforms.Lambda(3)


def test_to_tensor_reads_pil_images():
    Image = pytest.importorskip("PIL.Image")
    rgb = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    t = transforms.ToTensor()(Image.fromarray(rgb))
    np.testing.assert_array_equal(t._data, rgb.transpose(2, 0, 1) / np.float32(255))
