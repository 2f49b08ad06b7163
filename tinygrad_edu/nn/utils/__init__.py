"""``nn.utils``: helpers around training (gradient clipping; sequence packing in ``rnn``)."""
from tinygrad_edu.nn.utils import rnn
from tinygrad_edu.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn"]
