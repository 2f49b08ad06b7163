"""tinygrad_edu: a reverse-mode autograd engine and a teaching deep-learning framework.

The public API follows PyTorch::

    import tinygrad_edu as tg
    from tinygrad_edu import nn, optim
    import tinygrad_edu.functional as F

    x = tg.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    y = (x @ x.T).tanh().sum()
    y.backward()
    x.grad
"""
from tinygrad_edu import cuda, functional, nn
from tinygrad_edu import data, optim
from tinygrad_edu import models
from tinygrad_edu import viz
from tinygrad_edu.autograd import (backward, enable_grad, grad, is_grad_enabled, no_grad,
                                   retain_grads, scope, set_grad_enabled)
from tinygrad_edu.backend import (bool_, float16, float32, float64, int8, int16, int32, int64,
                                  uint8)
from tinygrad_edu.gradcheck import gradcheck, gradgradcheck
from tinygrad_edu.serialization import load, save
from tinygrad_edu.tensor import (Tensor, arange, cat, empty, eye, from_numpy, full, full_like,
                                 get_default_device, linspace, manual_seed, ones, ones_like, rand,
                                 randint, randn, randperm, set_default_device, sliding_window,
                                 stack, tensor, where, zeros, zeros_like)

bool = bool_  # noqa: A001 - PyTorch spells it tg.bool
float = float32  # noqa: A001
double = float64
long = int64
half = float16

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "empty", "full", "full_like", "zeros_like", "ones_like",
    "eye", "arange", "linspace", "randn", "rand", "randint", "randperm", "from_numpy",
    "manual_seed", "cat", "stack", "where", "sliding_window", "set_default_device",
    "get_default_device", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "grad", "backward", "scope", "retain_grads", "gradcheck", "gradgradcheck", "cuda",
    "functional", "nn", "models", "viz", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
    "bool", "float", "double", "long", "half", "optim", "data", "save", "load",
]
