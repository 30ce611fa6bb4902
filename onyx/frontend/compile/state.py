"""State that lives outside a traced function: where each value is read from before a
compiled run and written to after it (a tensor's buffer, ``tensor.grad``, an optimizer's state
dict), and how the end of a trace finds what the call changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onyx import ir
from onyx.frontend.compile.errors import TraceError
from onyx.frontend.tensor import Tensor


# Where a state value lives between compiled calls: read before a run, written after.
@dataclass(frozen=True)
class Source:
    kind: str          # "tensor" (its buffer), "grad" (tensor.grad), "state" (dict entry)
    owner: object      # the tensor, or the dict for "state"
    key: object = None

    def read(self):
        if self.kind == "tensor":
            return self.owner
        if self.kind == "grad":
            return self.owner.grad
        return self.owner.get(self.key)

    def write(self, data: np.ndarray) -> None:
        if self.kind == "tensor":
            t = self.owner
            if t._data.shape == data.shape and t._data.flags.writeable:
                np.copyto(t._data, data, casting="unsafe")
            else:
                t._data = np.array(data, dtype=t._data.dtype)
            t._version.value += 1
        elif self.kind == "grad":
            self.owner.grad = Tensor._wrap(data)
        else:
            self.owner[self.key] = Tensor._wrap(data)


def writebacks(tracer, outs: list) -> list[tuple[str, Source]]:
    """State whose value changed: an extra output per change, named ``new.<name>``."""
    found = []
    for cap in tracer.captures:
        if cap.source is not None and cap.source.kind == "tensor":
            now = tracer.lookup(cap.source.owner, check=False)
            if now is not None and now is not cap.value:
                found.append((cap.name, cap.source, now))
    for name, src in list(tracer._sources.values()):
        found += _attribute_writebacks(tracer, name, src)
    found += _replaced_module_state(tracer)
    done = set()
    result = []
    for name, src, value in found:
        if name in done:
            continue
        done.add(name)
        node = ir.Node("Identity", [value], name=tracer._fresh("Identity"))
        node.outputs[0].type, node.outputs[0].name = value.type, f"new.{name}"
        tracer.graph.append(node)
        outs.append(node.outputs[0])
        result.append((name, src))
    return result


def _replaced_module_state(tracer) -> list:
    """A module buffer or parameter assigned a new (traced) tensor during the call: the new
    value is copied into the original tensor, which goes back into the attribute, so the
    graph's write-back updates the object later calls read (``self.count = self.count + 1``)."""
    from onyx.frontend.compile.compiled import module_state
    if not tracer.modules:
        return []
    by_name = {name: src for name, src in tracer._sources.values() if src.kind == "tensor"}
    found = []
    for name, now in module_state(tracer.modules).items():
        src = by_name.get(name)
        if src is None or src.owner is now:
            continue
        v = tracer.lookup(now, check=False)
        if v is None:
            continue
        original = src.owner
        src.write(now._data)
        _set_attribute(tracer.modules, name, original)
        found.append((name, src, v))
    return found


def _set_attribute(modules: dict, name: str, value: Tensor) -> None:
    """``name`` as ``module_state`` spells it: prefixed by the variable when several."""
    parts = name.split(".")
    if len(modules) == 1:
        root = next(iter(modules.values()))
    else:
        root, parts = modules[parts[0]], parts[1:]
    for p in parts[:-1]:
        root = getattr(root, p)
    setattr(root, parts[-1], value)


def _attribute_writebacks(tracer, name: str, src: Source) -> list:
    """``p.grad`` set by backward and optimizer state replaced by ``step``."""
    found = []
    if src.kind == "tensor" and isinstance(src.owner, Tensor) and src.owner.grad is not None:
        g = src.owner.grad
        v = tracer.lookup(g)
        if v is None and id(g) in tracer._sources:
            v = None  # the .grad the call started with, untouched
        elif v is None:
            raise TraceError(f"the gradient of {name!r} was accumulated outside the traced "
                             f"ops (it existed before the call and backward() added to it); "
                             f"call optimizer.zero_grad() (set_to_none=True) in the step")
        cap = tracer._captured.get(id(g))
        if v is not None and (cap is None or cap.value is not v):
            found.append((f"{name}.grad", Source("grad", src.owner), v))
    for opt in tracer.optimizers:
        names = tracer._param_names()
        for p, state in opt.state.items():
            base = names.get(id(p))
            if base != name:
                continue
            for key, t in state.items():
                if not isinstance(t, Tensor):
                    continue
                v = tracer.value_of(t)
                cap = tracer._captured.get(id(t))
                if cap is None or cap.value is not v:
                    found.append((f"state.{base}.{key}", Source("state", state, key), v))
    return found
