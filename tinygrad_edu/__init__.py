"""tinygrad_edu: a reverse-mode autograd engine and a teaching deep-learning framework.

The public API follows PyTorch::

    import tinygrad_edu as tg
    from tinygrad_edu import nn, optim
    import tinygrad_edu.functional as F

    x = tg.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    y = (x @ x.T).tanh().sum()
    y.backward()
    x.grad

The layers, bottom up (an import only points down): ``engine`` (the reading core),
``fastlane`` (speed tricks, switched with ``tg.fast``), ``functional`` (composites), ``gradcheck`` /
``serialization`` / ``cuda``, ``nn`` / ``optim`` / ``data``, ``models`` / ``train``,
``viz``.
"""
from tinygrad_edu import cuda, data, fastlane, functional, models, nn, optim, viz
from tinygrad_edu.engine.backend import (bool_, float16, float32, float64, int8, int16, int32,
                                         int64, uint8)
from tinygrad_edu.engine.tensor import Tensor, get_default_device, set_default_device
from tinygrad_edu.fastlane import fast, is_fast
from tinygrad_edu.functional.creation import (arange, empty, empty_like, eye, from_numpy, full,
                                              full_like, linspace, manual_seed, ones, ones_like,
                                              rand, rand_like, randint, randint_like, randn,
                                              randn_like,
                                              randperm, tensor, zeros, zeros_like)
from tinygrad_edu.functional.gradients import (backward, enable_grad, grad, is_grad_enabled,
                                               no_grad, retain_grads, scope, set_grad_enabled)
from tinygrad_edu.functional.tensor_methods import (cat, logsumexp, matmul, maximum, minimum,
                                                    sliding_window, stack, where)
from tinygrad_edu.gradcheck import gradcheck, gradgradcheck
from tinygrad_edu.serialization import load, save

bool = bool_  # noqa: A001 - PyTorch spells it tg.bool
float = float32  # noqa: A001
double = float64
long = int64
half = float16

__version__ = "0.2.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "empty", "full", "full_like", "zeros_like", "ones_like",
    "empty_like", "rand_like", "randn_like", "eye", "arange", "linspace", "randn", "rand",
    "randint", "randint_like", "randperm", "from_numpy", "manual_seed", "cat", "stack", "where",
    "matmul", "maximum", "minimum", "logsumexp",
    "sliding_window", "set_default_device", "get_default_device", "no_grad", "enable_grad",
    "set_grad_enabled", "is_grad_enabled", "grad", "backward", "scope", "retain_grads",
    "gradcheck", "gradgradcheck", "fast", "is_fast", "fastlane", "cuda", "functional", "nn",
    "models",
    "viz", "optim", "data", "save", "load", "float16", "float32", "float64", "int8", "int16",
    "int32", "int64", "uint8", "bool_", "bool", "float", "double", "long", "half",
]
