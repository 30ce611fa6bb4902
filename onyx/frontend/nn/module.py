"""``nn.Module``: parameters, buffers and submodules in a tree, with torch's API.

    >>> class Net(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = Linear(2, 3)
    ...     def forward(self, x):
    ...         return self.fc(x)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator

from onyx.frontend.nn.parameter import Buffer, Parameter
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


class _Handle:
    def __init__(self, hooks: dict, key: int):
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class Module:
    training: bool
    _hook_id = 0

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  f"\"forward\" function")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if "_parameters" not in d and isinstance(value, Module | Parameter):
            raise AttributeError("cannot assign a module or parameter before "
                                 "Module.__init__() call")
        if isinstance(value, Parameter):
            self._drop(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._drop(name)
            self._modules[name] = value
        elif isinstance(value, Buffer):
            self._drop(name)
            self.register_buffer(name, value, persistent=value.persistent)
        elif name in d.get("_parameters", {}):
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (onyx.nn.Parameter or None expected)")
            self._parameters[name] = None
        elif name in d.get("_buffers", {}) and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        elif name in d.get("_modules", {}) and value is None:
            self._modules[name] = None
        else:
            self._drop(name)
            object.__setattr__(self, name, value)

    def _drop(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            self.__dict__.get(store, {}).pop(name, None)

    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, {}):
                del self.__dict__[store][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' "
                            f"(onyx.nn.Parameter or None expected)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' as buffer '{name}'")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor if not isinstance(tensor, Buffer) else \
            Tensor._wrap(tensor._data)
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)

    def register_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    add_module = register_module

    def get_submodule(self, target: str) -> Module:
        mod = self
        for part in filter(None, target.split(".")):
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r}")
            mod = mod._modules[part]
        return mod

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if self in memo and remove_duplicate:
            return
        memo.add(self)
        yield prefix, self
        for name, mod in self._modules.items():
            if mod is not None:
                yield from mod.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                             remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, mod in self._modules.items():
            if mod is not None and mod not in seen:
                seen.add(mod)
                yield name, mod

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, store).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------ modes and moves
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = Tensor._wrap(p.grad._data * 0)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_to_tensors(self, fn: Callable[[Tensor], Tensor]) -> Module:
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    new = fn(p)
                    if new is not p:
                        p._data = new._data
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = fn(b)
        return self

    def to_onnx(self, *example_args, path=None, **export_kwargs):
        """This module's forward pass as an ``onnx.ModelProto`` (also written to ``path`` when
        given); ``export_kwargs`` are ``onyx.onnx.export``'s (input_names, dynamic_axes, ...).
        """
        from onyx import ir
        from onyx.frontend.onnx_io.export import export_model
        built = export_model(self, example_args, **export_kwargs)
        if path is not None:
            ir.save(built, path)
        return ir.to_onnx(built)

    def to(self, *args, **kwargs) -> Module:
        """Move/cast parameters and buffers in place: ``to(dtype)``, ``to("cpu")``."""
        from onyx.frontend.device import device
        target_dtype = kwargs.get("dtype")
        for a in list(args) + [kwargs.get("device")]:
            if a is None:
                continue
            if isinstance(a, str | device):
                d = device(a)
                if d.type != "cpu":
                    raise OnyxError(f"device {d} is not available: onyx runs on the CPU here "
                                    f"(install the 'cuda' extra on a machine with a GPU)")
            elif hasattr(a, "is_floating_point"):
                target_dtype = a
        if target_dtype is None:
            return self

        def cast(t: Tensor) -> Tensor:
            if t.dtype.is_floating_point and target_dtype.is_floating_point:
                return Tensor._wrap(t._data.astype(target_dtype.np))
            return t
        return self._apply_to_tensors(cast)

    def cpu(self) -> Module:
        return self

    def float(self) -> Module:
        from onyx.frontend import dtypes
        return self.to(dtypes.float32)

    def double(self) -> Module:
        from onyx.frontend import dtypes
        return self.to(dtypes.float64)

    def half(self) -> Module:
        from onyx.frontend import dtypes
        return self.to(dtypes.float16)

    # ------------------------------------------------------------ hooks
    def _add_hook(self, store: dict, hook) -> _Handle:
        Module._hook_id += 1
        store[Module._hook_id] = hook
        return _Handle(store, Module._hook_id)

    def register_forward_pre_hook(self, hook) -> _Handle:
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook) -> _Handle:
        return self._add_hook(self._forward_hooks, hook)

    # ------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values into parameters and buffers; with ``strict`` keys must match exactly."""
        from collections import namedtuple
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            src = state_dict[k]
            src_data = src._data if isinstance(src, Tensor) else __import__("numpy").asarray(src)
            if tuple(src_data.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape "
                              f"{list(src_data.shape)} from checkpoint, the shape in current "
                              f"model is {list(target.shape)}.")
                continue
            target._data[...] = src_data.astype(target._data.dtype, copy=False)
            target._version.value += 1
        if strict:
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected) + ".")
        if errors:
            raise OnyxError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" +
                            "\n\t".join(errors))
        return namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])(
            missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, mod in self._modules.items():
            text = repr(mod).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) |
                      set(self._modules))
