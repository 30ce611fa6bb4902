"""Random number generation: ``onyx.Generator``, ``manual_seed`` and the default generator.

A ``Generator`` wraps NumPy's PCG64 bit generator; its state can be saved and restored
(``get_state``/``set_state``), so a resumed run draws the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.errors import OnyxError


class Generator:
    """A seeded random stream (``torch.Generator``).

        >>> g = Generator().manual_seed(0)
        >>> a = g.numpy().random(2)
    """

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < 0:
            seed += 2**64
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        from onyx.frontend.tensor import Tensor
        state = self._rng.bit_generator.state
        words = [state["state"]["state"], state["state"]["inc"], state["has_uint32"],
                 state["uinteger"], self._seed]
        raw = b"".join(int(w).to_bytes(16, "little") for w in words)
        return Tensor._wrap(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, state) -> Generator:
        raw = bytes(np.asarray(state._data if hasattr(state, "_data") else state,
                               dtype=np.uint8))
        if len(raw) != 80:
            raise OnyxError(f"a generator state is 80 bytes, got {len(raw)}")
        words = [int.from_bytes(raw[i:i + 16], "little") for i in range(0, 80, 16)]
        bg = np.random.PCG64()
        bg.state = {"bit_generator": "PCG64", "state": {"state": words[0], "inc": words[1]},
                    "has_uint32": words[2], "uinteger": words[3]}
        self._rng, self._seed = np.random.Generator(bg), words[4]
        return self

    def numpy(self) -> np.random.Generator:
        """The underlying NumPy generator (what onyx's random functions draw from)."""
        from onyx.frontend import dispatch
        if dispatch._TRACER is not None:  # a draw while tracing cannot be replayed
            dispatch._TRACER.random_draw()
        return self._rng


default_generator = Generator().manual_seed(0x5EED)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and return it), as ``torch.manual_seed``."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy()
