"""Convolution layers: ``Conv1d`` and ``Conv2d`` (module forms of ``F.conv1d`` / ``F.conv2d``).

A ``Conv2d(in_channels, out_channels, kernel_size)`` holds

* ``weight``: (out_channels, in_channels/groups, KH, KW) — one 3-D filter per output
  channel, spanning all (grouped) input channels,
* ``bias``: (out_channels,) — one number per filter,

so it has out·(in/groups·KH·KW + 1) parameters: ``Conv2d(1, 6, 5)`` has 6·(25 + 1) = 156.
Initialised as PyTorch does: kaiming_uniform_(a=√5), i.e. U(-1/√fan_in, 1/√fan_in)
for weight and bias, fan_in = in/groups·KH·KW.
"""
from __future__ import annotations

import math
from typing import Any

from tinygrad_edu import functional as F
from tinygrad_edu.functional.convolution import int_tuple
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.creation import empty


class _ConvNd(Module):
    """Shared constructor of Conv1d and Conv2d (argument checks, parameters, init)."""

    _nd = 2
    _fn: Any = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        in_channels = init.size_arg(in_channels, "in_channels", name)
        out_channels = init.size_arg(out_channels, "out_channels", name)
        groups = init.size_arg(groups, "groups", name, minimum=1)
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode {padding_mode!r} is not supported; "
                                      "only 'zeros'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = int_tuple(kernel_size, nd, "kernel_size", name)
        self.stride = int_tuple(stride, nd, "stride", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = int_tuple(padding, nd, "padding", name)
        self.dilation = int_tuple(dilation, nd, "dilation", name)
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = Parameter(empty((out_channels, in_channels // groups) + self.kernel_size,
                                      device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding,
                              self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else \
                f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer: (N, C_in, H, W) -> (N, C_out, OH, OW). See ``F.conv2d``.

    >>> conv = nn.Conv2d(1, 6, kernel_size=5)        # LeNet-5's C1
    >>> conv(tg.zeros(1, 1, 32, 32)).shape
    (1, 6, 28, 28)
    >>> sum(p.numel() for p in conv.parameters())    # 6 · (5·5 + 1)
    156
    """

    _nd = 2
    _fn = staticmethod(F.conv2d)


class Conv1d(_ConvNd):
    """1-D convolution layer over sequences: (N, C_in, L) -> (N, C_out, OL). See ``F.conv1d``.

    >>> nn.Conv1d(16, 32, kernel_size=5)(tg.zeros(2, 16, 40)).shape
    (2, 32, 36)
    """

    _nd = 1
    _fn = staticmethod(F.conv1d)
