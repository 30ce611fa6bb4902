"""Gradient-recording switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``,
``inference_mode``. Each works as a context manager and as a decorator."""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True  # a class default: reading it never takes getattr's slow missing path


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class _Mode:
    enabled = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set(self.enabled)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def _fresh(self) -> _Mode:
        return type(self)()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_Mode):  # noqa: N801
    """Ops inside record nothing for autograd.

        >>> with no_grad():
        ...     y = x * 2          # doctest: +SKIP
    """
    enabled = False


class enable_grad(_Mode):  # noqa: N801
    enabled = True


class inference_mode(_Mode):  # noqa: N801
    """Like ``no_grad``; ``inference_mode(False)`` is a no-op, as in torch."""

    def __init__(self, mode: bool = True):
        self.enabled = not mode

    def _fresh(self) -> _Mode:
        return inference_mode(not self.enabled)


class set_grad_enabled(_Mode):  # noqa: N801
    def __init__(self, mode: bool):
        self.enabled = bool(mode)
        self._prev = is_grad_enabled()
        _set(self.enabled)  # torch also switches at once when used as a function

    def __enter__(self):
        return self

    def _fresh(self) -> _Mode:
        _set(self._prev)  # used as a decorator: switch only while the function runs
        return _Scoped(self.enabled)

    def __exit__(self, *exc):
        _set(self._prev)
        return False


class _Scoped(_Mode):
    def __init__(self, enabled: bool):
        self.enabled = enabled
