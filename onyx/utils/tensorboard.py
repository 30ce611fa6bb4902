"""TensorBoard logging with torch's ``SummaryWriter`` API, written through tensorboardX.

    >>> from onyx.utils.tensorboard import SummaryWriter
    >>> with SummaryWriter("runs/example") as writer:          # doctest: +SKIP
    ...     writer.add_scalar("loss/train", 0.25, global_step=1)
    ...     writer.add_graph(model, example_input)             # the traced ONNX graph

Values may be onyx Tensors, NumPy arrays or Python numbers. ``add_graph`` traces the model into
onyx's IR (ONNX) and draws that graph: one TensorBoard node per ONNX node, named by the module
that produced it when the tracer knows it, with the ONNX attributes and output shapes attached;
parameters and graph inputs/outputs are nodes of their own. Needs ``tensorboardX``
(``pip install 'onyx[tensorboard]'``); run ``tensorboard --logdir runs`` to look at the logs.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import numpy as np

from onyx import ir


def _numpy(value: Any) -> np.ndarray:
    """An onyx Tensor (detached, on the CPU), NumPy array or number as a NumPy array."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


def _scalar(value: Any) -> float:
    arr = _numpy(value)
    if arr.size != 1:
        raise ValueError(f"a scalar needs exactly one element, got shape {list(arr.shape)}")
    return float(arr.reshape(()))


def _default_log_dir(comment: str) -> str:
    # torch's layout: runs/<date>_<time>_<host><comment>, one folder per run
    stamp = time.strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


def _tensorflow_bins() -> np.ndarray:
    """TensorBoard's default histogram edges: +-1e-12 growing by 10% up to 1e20, and 0."""
    pos = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e32) / np.log(1.1))))
    pos = pos[pos < 1e20]
    return np.concatenate([-pos[::-1], [0.0], pos])


class _EventFile:
    """One event file, written synchronously: ``flush`` means the events are on disk."""

    def __init__(self, folder: str, suffix: str, max_queue: int, flush_secs: float) -> None:
        from tensorboardX.event_file_writer import EventsWriter
        os.makedirs(folder, exist_ok=True)
        self._events = EventsWriter(os.path.join(folder, "events"), suffix)
        self._max_queue, self._flush_secs = max_queue, flush_secs
        self._pending, self._last_flush = 0, time.monotonic()

    def write(self, event) -> None:
        self._events.write_event(event)
        self._pending += 1
        # Bounded loss on a crash: at most max_queue events or flush_secs seconds unwritten
        if (self._pending >= self._max_queue
                or time.monotonic() - self._last_flush >= self._flush_secs):
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._events.flush()
            self._pending, self._last_flush = 0, time.monotonic()

    def close(self) -> None:
        self.flush()
        self._events.close()


class SummaryWriter:
    """Writes TensorBoard event files under ``log_dir`` (default ``runs/<date>_<host>``).

    The methods and their arguments are torch.utils.tensorboard's; ``add_graph`` draws the ONNX
    graph onyx traces from the model. Events are written in the calling thread (no queue, no
    background process), so ``flush()`` returns once everything logged is on disk.
    """

    def __init__(self, log_dir: str | None = None, comment: str = "", purge_step: int | None = None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "") -> None:
        try:
            from tensorboardX import summary
            from tensorboardX.proto import event_pb2
        except ImportError as exc:
            raise ImportError("onyx.utils.tensorboard needs tensorboardX: "
                              "pip install 'onyx[tensorboard]'", name=exc.name) from None
        self._summary, self._event_pb2 = summary, event_pb2
        self.log_dir = log_dir or _default_log_dir(comment)
        self._options = (filename_suffix, max_queue, flush_secs)
        self._files: dict[str, _EventFile] = {}
        self._closed = False
        main = self._file(self.log_dir)
        if purge_step is not None:
            # TensorBoard drops events at or after this step written by an earlier run
            log = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
            main.write(event_pb2.Event(step=purge_step, wall_time=time.time(), session_log=log))

    def get_logdir(self) -> str:
        return self.log_dir

    def _file(self, folder: str) -> _EventFile:
        if self._closed:
            raise ValueError(f"SummaryWriter({self.log_dir!r}) is closed")
        if folder not in self._files:
            self._files[folder] = _EventFile(folder, *self._options)
        return self._files[folder]

    def _write(self, summary, step: int | None, walltime: float | None,
               folder: str | None = None) -> None:
        event = self._event_pb2.Event(summary=summary,
                                      wall_time=time.time() if walltime is None else walltime)
        if step is not None:
            event.step = int(step)
        self._file(folder or self.log_dir).write(event)

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None) -> None:
        """One point of the curve ``tag``; ``scalar_value`` may be a one-element Tensor."""
        self._write(self._summary.scalar(tag, _scalar(scalar_value)), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        """Several curves in one chart: each key is a run ``<log_dir>/<main_tag>/<key>``."""
        for key, value in tag_scalar_dict.items():
            folder = os.path.join(self.log_dir, main_tag, key)
            self._write(self._summary.scalar(main_tag, _scalar(value)), global_step, walltime,
                        folder)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None,
                      bins: str | int | np.ndarray = "tensorflow",
                      walltime: float | None = None, max_bins: int | None = None) -> None:
        """The distribution of ``values`` (a parameter, a gradient, activations)."""
        arr = _numpy(values).astype(np.float64, copy=False).ravel()
        if arr.size == 0:
            raise ValueError(f"add_histogram({tag!r}): no values to histogram")
        if isinstance(bins, str) and bins == "tensorflow":
            bins = _tensorflow_bins()
        self._write(self._summary.histogram(tag, arr, bins, max_bins=max_bins), global_step,
                    walltime)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        self._write(self._summary.text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict | None = None, run_name: str | None = None,
                    global_step: int | None = None) -> None:
        """A row of the HParams dashboard: the run's hyper-parameters and final metrics, in
        the run ``<log_dir>/<run_name>`` (default: the current time)."""
        hparams = {k: (_scalar(v) if hasattr(v, "numpy") else v) for k, v in hparam_dict.items()}
        metrics = {k: _scalar(v) for k, v in metric_dict.items()}
        folder = os.path.join(self.log_dir, run_name or str(time.time()))
        for summary in self._summary.hparams(hparams, metrics):
            self._write(summary, None, None, folder)
        for k, v in metrics.items():
            self._write(self._summary.scalar(k, v), global_step, None, folder)

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False) -> None:
        """Draw ``model``'s ONNX graph: an ``onyx.ir.Model`` as it is, or an ``nn.Module``
        (or function) traced on ``input_to_model`` (a Tensor or a tuple of them)."""
        if isinstance(model, ir.Model):
            traced = model
        else:
            if input_to_model is None:
                raise ValueError("add_graph needs input_to_model to trace a module")
            traced = _trace(model, input_to_model)
        if verbose:
            print(ir.format_model(traced))
        from onyx.utils.tensorboard_graph import graph_def
        event = self._event_pb2.Event(graph_def=graph_def(traced).SerializeToString(),
                                      wall_time=time.time())
        self._file(self.log_dir).write(event)

    def flush(self) -> None:
        for f in self._files.values():
            f.flush()

    def close(self) -> None:
        if not self._closed:
            for f in self._files.values():
                f.close()
            self._closed = True

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _trace(model: Any, example: Any) -> ir.Model:
    """The ONNX graph of one call of ``model`` on ``example``, from onyx's tracer; parameters
    and buffers keep their module paths as initializer names."""
    from onyx.frontend.autograd import no_grad
    from onyx.frontend.compile.trace import trace
    args = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    names = {}
    if hasattr(model, "named_parameters"):
        names = dict(model.named_parameters()) | dict(model.named_buffers())
    with no_grad():  # the forward graph only, as TensorBoard draws it
        return trace(model, args, names=names).model
