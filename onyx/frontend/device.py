"""``onyx.device``: where a tensor lives (``"cpu"``, ``"cuda:0"``)."""

from __future__ import annotations

from onyx.ir.errors import OnyxError


class device:  # noqa: N801  (torch's spelling)
    __slots__ = ("type", "index")

    def __init__(self, spec, index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        spec = str(spec)
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise OnyxError(f"expected a device type 'cpu' or 'cuda', got {spec!r}")
        if idx:
            if not idx.isdigit():
                raise OnyxError(f"invalid device string {spec!r}")
            index = int(idx)
        self.type, self.index = kind, index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"
