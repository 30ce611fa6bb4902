"""Running a model on a CUDA device: generated kernels per node, NumPy where there is none.

For each input signature (shapes and dtypes) the model's types are made concrete and every
node is planned by ``onyx.backends.cuda.plan`` (a list of generated kernels, an alias for
view ops, or ``None``). A run then walks the nodes in order on one stream: kernels read and
write pool buffers; a node without a CUDA kernel runs its NumPy kernel on the host, with its
inputs copied down and its outputs copied up when a later kernel needs them. Those host round
trips are listed in ``fallbacks`` (and by ``onyx dump --backend cuda``), never hidden.

    >>> rep = onyx.backends.cuda.prepare(model)                      # doctest: +SKIP
    >>> outputs = rep.run([x])          # NumPy arrays in, NumPy arrays out
    >>> rep.fallbacks                   # [(node name, op type), ...] run on the host
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from onyx import ir
from onyx.backends.cuda import runtime
from onyx.backends.cuda.memory import MemoryPool
from onyx.ir.dtypes import DType
from onyx.ir.errors import InputError
from onyx.ir.types import TensorType

_pools: dict[int, MemoryPool] = {}


def pool(device: int) -> MemoryPool:
    """The device's memory pool (one per device, shared by every prepared model)."""
    if device not in _pools:
        drv = runtime.require()
        _pools[device] = MemoryPool(drv.mem_alloc, (drv.MemoryError,))
    return _pools[device]


class _Block:
    """A pool block shared by a buffer and the views aliasing it."""
    __slots__ = ("alloc", "refs")

    def __init__(self, alloc):
        self.alloc, self.refs = alloc, 1


@dataclass
class DeviceBuffer:
    block: _Block
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ptr(self) -> int:
        return int(self.block.alloc)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


@dataclass
class _Prepared:
    model: ir.Model
    steps: list = field(default_factory=list)  # (node, plan or None)
    last_use: dict = field(default_factory=dict)  # id(value) -> last step index


class CudaExecutor:
    """A model prepared for one CUDA device (see the module docstring)."""

    def __init__(self, model: ir.Model, device: int | None = None):
        self.drv = runtime.require()
        self.device = runtime.check_index(device)
        self.model = model
        g = model.graph
        self.input_names = [v.name for v in g.inputs if v.name not in g.initializers]
        self.output_names = [v.name for v in g.outputs]
        ctx = runtime.context(self.device)
        try:
            self.arch = runtime.arch(self.device)
            self.stream = self.drv.Stream()
        finally:
            runtime.release(ctx)
        self.pool = pool(self.device)
        self.fallbacks: list[tuple[str, str]] = []
        self._prepared: dict[tuple, _Prepared] = {}
        self._host_runners: dict[int, object] = {}
        self._weights: dict[str, DeviceBuffer] = {}

    # ---------------------------------------------------------------- preparing
    def _prepare(self, arrays: list[np.ndarray]) -> _Prepared:
        key = tuple((a.shape, a.dtype.str) for a in arrays)
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared[key] = self._plan(arrays)
        return prepared

    def _plan(self, arrays: list[np.ndarray]) -> _Prepared:
        from onyx.backends.cuda.plan import plan_graph
        copy = ir.from_onnx(ir.to_onnx(self.model), base_dir=self.model.base_dir)
        feeds = [v for v in copy.graph.inputs if v.name not in copy.graph.initializers]
        for v, a in zip(feeds, arrays):
            v.type = TensorType(DType.from_numpy(a.dtype), tuple(a.shape))
        steps = plan_graph(copy, arch=self.arch)
        last_use: dict[int, int] = {}
        for i, (node, _) in enumerate(steps):
            for v in node.inputs:
                if v is not None:
                    last_use[id(v)] = i
        for v in copy.graph.outputs:
            last_use[id(v)] = len(steps)
        self.fallbacks = [(n.name or n.op_type, n.op_type) for n, p in steps if p is None]
        return _Prepared(copy, steps, last_use)

    # ---------------------------------------------------------------- running
    def run(self, inputs) -> list[np.ndarray]:
        arrays = self._feeds(inputs)
        ctx = runtime.context(self.device)
        try:
            prepared = self._prepare(arrays)
            env = self._bind(prepared, arrays)
            for i, (node, plan) in enumerate(prepared.steps):
                if plan is None:
                    self._run_on_host(node, env)
                elif plan.aliases:
                    self._alias(node, plan, env)
                else:
                    self._launch(node, plan, env)
                self._free_dead(prepared, node, i, env)
            outputs = [self._to_host(env[id(v)]) for v in prepared.model.graph.outputs]
            runtime.synchronize(self.stream, what="the graph")
            for v in prepared.model.graph.outputs:
                self._drop(env.pop(id(v), None))
            return outputs
        finally:
            runtime.release(ctx)

    def _feeds(self, inputs) -> list[np.ndarray]:
        if isinstance(inputs, dict):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise InputError(f"missing input(s) {missing}; the model takes "
                                 f"{self.input_names}")
            inputs = [inputs[n] for n in self.input_names]
        inputs = [np.ascontiguousarray(x) for x in inputs]
        if len(inputs) != len(self.input_names):
            raise InputError(f"the model takes {len(self.input_names)} input(s) "
                             f"{self.input_names}, got {len(inputs)}")
        return inputs

    def _bind(self, prepared: _Prepared, arrays: list[np.ndarray]) -> dict:
        g = prepared.model.graph
        env: dict[int, object] = {}
        for name, v in g.initializers.items():
            env[id(v)] = self._weight(name, v)
        feeds = [v for v in g.inputs if v.name not in g.initializers]
        for v, a in zip(feeds, arrays):
            env[id(v)] = a  # uploaded when a kernel first reads it
        return env

    def _weight(self, name: str, v: ir.Value) -> DeviceBuffer:
        buf = self._weights.get(name)
        if buf is None:
            buf = self._weights[name] = self._upload(np.ascontiguousarray(v.const.numpy()))
            buf.block.refs += 1  # held for the executor's lifetime: runs never free it
        return buf

    def _device(self, x) -> DeviceBuffer:
        return x if isinstance(x, DeviceBuffer) else self._upload(np.ascontiguousarray(x))

    def _upload(self, a: np.ndarray) -> DeviceBuffer:
        buf = self._alloc(a.shape, a.dtype)
        if a.nbytes:
            self.drv.memcpy_htod_async(buf.block.alloc, a, self.stream)
        return buf

    def _alloc(self, shape, dtype) -> DeviceBuffer:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        return DeviceBuffer(_Block(self.pool.take(nbytes)), tuple(shape), dtype)

    def _to_host(self, x) -> np.ndarray:
        if not isinstance(x, DeviceBuffer):
            return np.asarray(x)
        out = np.empty(x.shape, x.dtype)
        if out.nbytes:
            self.drv.memcpy_dtoh_async(out, x.block.alloc, self.stream)
            self.stream.synchronize()
        return out

    def _launch(self, node: ir.Node, plan, env: dict) -> None:
        pointers: dict[str, int] = {}
        for i, v in enumerate(node.inputs):
            if v is not None and v.name:
                buf = env[id(v)] = self._device(env[id(v)])
                pointers[f"in{i}"] = buf.ptr
        for j, v in enumerate(node.outputs):
            t = v.type
            if not v.name or not isinstance(t, TensorType) or t.shape is None:
                continue  # an omitted optional output
            buf = self._alloc(t.shape, t.dtype.numpy)
            env[id(v)] = buf
            pointers[f"out{j}"] = buf.ptr
        scratch = [self.pool.take(n) for n in plan.scratch_bytes]
        for k, block in enumerate(scratch):
            pointers[f"scratch{k}"] = int(block)
        label = f"{node.op_type} {node.name!r}"
        for kernel in plan.kernels:
            runtime.launch(kernel, [pointers[a] for a in kernel.args], self.stream,
                           node=label, arch_name=self.arch)
        for block in scratch:  # stream order keeps a later reuse behind these launches
            self.pool.give(block)

    def _alias(self, node: ir.Node, plan, env: dict) -> None:
        for j, i in plan.aliases:
            src = env[id(node.inputs[i])] = self._device(env[id(node.inputs[i])])
            src.block.refs += 1
            t = node.outputs[j].type
            env[id(node.outputs[j])] = DeviceBuffer(src.block, tuple(t.shape), t.dtype.numpy)

    def _run_on_host(self, node: ir.Node, env: dict) -> None:
        runner = self._host_runners.get(id(node))
        if runner is None:
            runner = self._host_runners[id(node)] = _host_runner(self.model, node)
        args = [self._to_host(env[id(v)]) for v in node.inputs if v is not None and v.name]
        results = runner.run(args)
        for v, r in zip(node.outputs, results):
            env[id(v)] = np.asarray(r)

    def _free_dead(self, prepared: _Prepared, node: ir.Node, step: int, env: dict) -> None:
        for v in node.inputs:
            if v is not None and prepared.last_use.get(id(v)) == step and v.const is None:
                self._drop(env.pop(id(v), None))
        for v in node.outputs:
            if id(v) not in prepared.last_use:  # never read
                self._drop(env.pop(id(v), None))

    def _drop(self, x) -> None:
        """One buffer (or view) of a block is dead; the last one returns the block."""
        if isinstance(x, DeviceBuffer):
            x.block.refs -= 1
            if x.block.refs == 0:
                self.pool.give(x.block.alloc)


def _host_runner(model: ir.Model, node: ir.Node):
    """A NumPy executor for ``node`` alone (functions and opsets of ``model``)."""
    from onyx.backends.numpy.executor import Executor
    g = ir.Graph(name="host")
    inputs = []
    for i, v in enumerate(node.inputs):
        if v is None or not v.name:
            inputs.append(None)
        else:
            inputs.append(g.add_input(f"in{i}", v.type))
    copy = ir.Node(node.op_type, inputs, list(node.attributes.values()), domain=node.domain,
                   num_outputs=len(node.outputs), overload=node.overload,
                   outputs=[f"out{j}" for j in range(len(node.outputs))])
    g.append(copy)
    g.outputs.extend(copy.outputs)
    host = ir.Model(g, opset_imports=dict(model.opset_imports))
    host.functions.update(model.functions)
    return Executor(host)


def prepare(model: ir.Model, device: int | None = None) -> CudaExecutor:
    """``model`` prepared on CUDA device ``device`` (default: the current one)."""
    return CudaExecutor(model, device)
