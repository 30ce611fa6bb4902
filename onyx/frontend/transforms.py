"""Image transforms (``onyx.vision.transforms``): ``Compose``, ``ToTensor``, ``Normalize`` and
``Lambda``, with torchvision's names, arguments and results.

    >>> import numpy as np
    >>> t = Compose([ToTensor(), Normalize(mean=[0.5], std=[0.5])])
    >>> t(np.full((2, 2), 255, dtype=np.uint8)).tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

# PIL modes whose pixels are not bytes (the rest are read as uint8)
_PIL_MODE_DTYPE = {"I": np.int32, "I;16" if sys.byteorder == "little" else "I;16B": np.int16,
                   "F": np.float32}


class Compose:
    """Apply ``transforms`` one after another."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


def _is_pil_image(pic) -> bool:
    pil = sys.modules.get("PIL.Image")  # an image exists only if PIL was imported
    return pil is not None and isinstance(pic, pil.Image)


def to_tensor(pic) -> Tensor:
    """A PIL image or an ``HxW``/``HxWxC`` array as a ``CxHxW`` tensor; uint8 pixels are scaled
    to floats in [0, 1], other dtypes are kept as they are (torchvision's ``to_tensor``)."""
    if _is_pil_image(pic):
        arr = np.array(pic, dtype=_PIL_MODE_DTYPE.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = arr * np.uint8(255)
        arr = arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    dtypes.from_numpy(chw.dtype)  # refuses dtypes onyx has no name for
    if chw.dtype == np.uint8:
        float_np = dtypes.get_default_dtype().np
        chw = chw.astype(float_np) / float_np.type(255)
    return Tensor._wrap(chw)


class ToTensor:
    """PIL image or ``HxWxC`` uint8 array -> ``CxHxW`` float tensor in [0, 1]."""

    def __call__(self, pic) -> Tensor:
        return to_tensor(pic)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a ``(..., C, H, W)`` float tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}")
    dt = tensor.dtype.np
    mean_a = np.asarray(getattr(mean, "_data", mean), dtype=dt)
    std_a = np.asarray(getattr(std, "_data", std), dtype=dt)
    if np.any(std_a == 0):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to "
                         f"division by zero.")
    if mean_a.ndim == 1:
        mean_a = mean_a.reshape(-1, 1, 1)
    if std_a.ndim == 1:
        std_a = std_a.reshape(-1, 1, 1)
    if tensor.requires_grad and not inplace:
        # through the tensor ops, so the gradient reaches the input
        return (tensor - Tensor._wrap(mean_a)) / Tensor._wrap(std_a)
    if not inplace:
        return Tensor._wrap((tensor._data - mean_a) / std_a)
    if tensor.requires_grad:
        raise OnyxError("Normalize(inplace=True) cannot change a tensor that requires grad")
    np.subtract(tensor._data, mean_a, out=tensor._data)
    np.divide(tensor._data, std_a, out=tensor._data)
    tensor._version.value += 1
    return tensor


class Normalize:
    """Normalize each channel: ``out[c] = (in[c] - mean[c]) / std[c]``."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        return normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """A user function as a transform."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
