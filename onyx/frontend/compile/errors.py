"""The errors tracing raises (``OnyxError`` subclasses)."""

from __future__ import annotations

from onyx.ir.errors import OnyxError


class GraphBreak(OnyxError):
    """Python code read a traced tensor's value: the graph cannot follow that decision."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


class TraceError(OnyxError):
    """The function cannot be traced (bad outputs, unfollowable writes, unsupported ops)."""
