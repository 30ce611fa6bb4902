"""``onyx.nn.utils``: gradient clipping and parameter/vector conversion."""

from onyx.frontend.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from onyx.frontend.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

clip_grad_norm = clip_grad_norm_  # torch's deprecated spelling

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters"]
