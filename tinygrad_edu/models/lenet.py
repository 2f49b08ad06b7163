"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), in its classic form and a modern one.

The classic network reads a 32x32 image (MNIST's 28x28 digits padded by 2) and is,
layer by layer, with its trainable parameters::

    C1  conv 1 -> 6 maps, 5x5           6@28x28   6·(25 + 1)                     =    156
    S2  2x2 subsampling                 6@14x14   6·(coefficient + bias)          =     12
    C3  conv 6 -> 16 maps, 5x5, partial 16@10x10  60 kernels·25 + 16 biases        =  1,516
    S4  2x2 subsampling                 16@5x5    16·2                            =     32
    C5  conv 16 -> 120 maps, 5x5        120@1x1   120·(16·25 + 1)                 = 48,120
    F6  full 120 -> 84                  84        84·(120 + 1)                    = 10,164
    out full 84 -> 10 (softmax)         10        10·(84 + 1)                     =    850
                                                                        total      60,850

* **Subsampling** (S2, S4) is not max pooling: each unit adds its four inputs,
  multiplies the sum by a trainable coefficient, adds a trainable bias (one pair per
  map) and squashes: ``out = f(w0 + w1·(x1 + x2 + x3 + x4))``, f being the paper's
  sigmoid-shaped squashing function, the scaled tanh below (see :class:`Subsampling2d`).
* **C3 is only partly connected**: its 16 maps each read a subset of S2's 6 maps
  (Table I of the paper), 60 kernels in all instead of 96. The paper gives two
  reasons: fewer connections, and broken symmetry (different maps are forced to
  extract different features because they see different inputs).
* **F6** squashes with the paper's scaled tanh, f(a) = 1.7159·tanh(2a/3), chosen so
  that f(±1) = ±1 (Appendix A); C5, S2 and S4 use the same squashing. C1 and C3 feed
  the subsampling layers directly, whose squashing follows the trainable scale.
* The **output** of the paper was a layer of 10 Euclidean RBF units (84·10 = 840
  fixed-ish weights). Today one uses a fully connected layer whose 10 logits go into
  a softmax; that is what ``output`` is (850 parameters). The softmax itself is
  applied by the loss (``F.cross_entropy``), so ``forward`` returns logits.

The modern variant (``variant="modern"``) keeps the layer sizes but uses what is
usual today: ReLU, 2x2 max pooling, a fully connected C3 (6·16·25 + 16 = 2,416),
and a 28x28 input padded by 2 inside C1 (so MNIST needs no padding): 61,706
parameters.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu import functional as F
from tinygrad_edu.nn import init
from tinygrad_edu.nn.conv import Conv2d
from tinygrad_edu.nn.linear import Linear
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.nn.pooling import MaxPool2d
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import cat
from tinygrad_edu.functional.creation import empty, ones, zeros
from tinygrad_edu.functional.gradients import scope

# Table I of LeCun et al. (1998): the S2 maps that each C3 map reads.
# Maps 0-5 read 3 neighbouring maps, 6-11 read 4 neighbouring maps, 12-14 read 4
# non-neighbouring maps, and map 15 reads all 6: 6·3 + 6·4 + 3·4 + 6 = 60 kernels.
LENET5_C3_TABLE: tuple = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def scaled_tanh(x: Tensor) -> Tensor:
    """LeCun's squashing function f(a) = 1.7159·tanh(2a/3): f(1) ≈ 1, f(-1) ≈ -1.
    Recorded under the scope 'scaled_tanh()': the graph views draw it as one box."""
    with scope("scaled_tanh()"):
        return (x * (2.0 / 3.0)).tanh() * 1.7159


class PartialConv2d(Module):
    """A convolution whose output maps each read only a listed subset of the input maps.

    ``connections[o]`` lists the input maps that output map o reads. Only the used
    kernels are parameters: ``weight`` has shape (number of connections, KH, KW), and
    ``bias`` (out_channels,). In forward, a constant index table scatters the kernels
    into a full (out, in, KH, KW) filter bank whose unused slots are zero, which then
    goes through an ordinary ``F.conv2d``; the gradient of an unused slot reaches no
    parameter. LeNet-5's C3 has 60 kernels of 5x5: 60·25 + 16 = 1,516 parameters.

    >>> c3 = PartialConv2d(6, 16, 5, LENET5_C3_TABLE)
    >>> c3.weight.shape, sum(p.numel() for p in c3.parameters())
    ((60, 5, 5), 1516)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 connections: Sequence[Sequence[int]], bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if len(connections) != out_channels:
            raise ValueError(f"PartialConv2d: connections lists {len(connections)} output maps, "
                             f"expected out_channels={out_channels}")
        total = sum(len(c) for c in connections)          # number of kernels
        slot = [total] * (out_channels * in_channels)      # 'total' = the zero kernel
        k = 0
        for o, ins in enumerate(connections):
            for i in ins:
                if not 0 <= i < in_channels:
                    raise ValueError(f"PartialConv2d: output map {o} reads input map {i}, "
                                     f"but there are only {in_channels} input maps")
                slot[o * in_channels + i] = k      # the k-th stored kernel fills (o, i)
                k += 1
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (kernel_size, kernel_size)
        self.connections = tuple(tuple(c) for c in connections)
        self.n_kernels = k
        self._slot = slot                          # (out·in,) -> kernel number, k = "zero"
        self.weight = Parameter(empty(k, kernel_size, kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/√fan_in, 1/√fan_in) per output map, fan_in = its inputs · KH · KW (as
        PyTorch's default for a conv with that many input channels)."""
        kk = self.kernel_size[0] * self.kernel_size[1]
        fan = min(len(c) for c in self.connections) * kk
        bound = 1 / fan ** 0.5
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def full_weight(self) -> Tensor:
        """The (out, in, KH, KW) filter bank with zeros where a map is not connected."""
        w = self.weight
        zero = zeros(1, *self.kernel_size, dtype=w.dtype, device=w.device)
        table = Tensor(self._slot, device=w.device)             # (out·in,) int64
        bank = cat([w, zero], 0)[table]                         # (out·in, KH, KW)
        return bank.reshape(self.out_channels, self.in_channels, *self.kernel_size)

    def forward(self, input: Tensor) -> Tensor:
        return F.conv2d(input, self.full_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"kernels={self.n_kernels}")


class Subsampling2d(Module):
    """LeNet's trainable subsampling: out = f(bias + coefficient · Σ_{2x2 window} x).

    One coefficient and one bias per map (2·channels parameters; S2 has 12). The sum
    of each non-overlapping 2x2 window halves H and W; the coefficient starts at 1/4
    (the layer begins as average pooling) and the bias at 0.
    (N, C, H, W) -> (N, C, H/2, W/2).

    f is the paper's "sigmoidal" squashing function. In LeCun et al. (1998) that is the
    scaled tanh 1.7159·tanh(2a/3) (Appendix A), the default here (``activation="tanh"``).
    ``activation="sigmoid"`` uses the logistic 1/(1 + e^-a) instead, as the lecture slide
    writes it; its outputs sit around 0.5 rather than 0, so the signal that reaches the
    next layers is weak and off-centre and the network learns much more slowly.
    """

    def __init__(self, channels: int, kernel_size: int = 2, activation: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if activation not in ("tanh", "sigmoid"):
            raise ValueError(f"Subsampling2d: activation must be 'tanh' (LeCun's scaled tanh) "
                             f"or 'sigmoid', got {activation!r}")
        self.channels = channels
        self.kernel_size = kernel_size
        self.activation = activation
        self.weight = Parameter(ones(channels, device=device, dtype=dtype) * 0.25)
        self.bias = Parameter(zeros(channels, device=device, dtype=dtype))

    def forward(self, input: Tensor) -> Tensor:
        k = self.kernel_size
        total = F.avg_pool2d(input, k, divisor_override=1)      # (N, C, H/k, W/k) window sums
        c = self.channels
        a = total * self.weight.reshape(1, c, 1, 1) + self.bias.reshape(1, c, 1, 1)
        return scaled_tanh(a) if self.activation == "tanh" else a.sigmoid()

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}, activation={self.activation!r}"


class LeNet5(Module):
    """LeNet-5 for 10-class digit images; see the module docstring for the layer table.

    variant="classic": input (N, 1, 32, 32); trainable subsampling, partial C3, scaled
    tanh. variant="modern": input (N, 1, 28, 28); ReLU and max pooling. Both return
    (N, 10) logits.

    >>> LeNet5().summary((1, 32, 32))        # 156, 12, 1,516, 32, 48,120, 10,164, 850
    """

    def __init__(self, variant: str = "classic", num_classes: int = 10) -> None:
        super().__init__()
        if variant not in ("classic", "modern"):
            raise ValueError(f"LeNet5: variant must be 'classic' or 'modern', got {variant!r}")
        self.variant = variant
        if variant == "classic":
            self.c1 = Conv2d(1, 6, 5)                            # 32x32 -> 6@28x28
            self.s2 = Subsampling2d(6)                           # -> 6@14x14
            self.c3 = PartialConv2d(6, 16, 5, LENET5_C3_TABLE)   # -> 16@10x10
            self.s4 = Subsampling2d(16)                          # -> 16@5x5
        else:
            self.c1 = Conv2d(1, 6, 5, padding=2)                 # 28x28 -> 6@28x28
            self.s2 = MaxPool2d(2)                               # -> 6@14x14
            self.c3 = Conv2d(6, 16, 5)                           # -> 16@10x10
            self.s4 = MaxPool2d(2)                               # -> 16@5x5
        self.c5 = Conv2d(16, 120, 5)                             # -> 120@1x1
        self.f6 = Linear(120, 84)
        self.output = Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        size = 32 if self.variant == "classic" else 28
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, size, size):
            hint = " (pad MNIST's 28x28 by 2: F.pad(x, (2, 2, 2, 2)))" if size == 32 else ""
            raise ValueError(f"LeNet5({self.variant!r}): expected input of shape (N, 1, {size}, "
                             f"{size}){hint}, got {tuple(x.shape)}")
        if self.variant == "classic":
            x = self.s2(self.c1(x))                              # (N, 6, 14, 14)
            x = self.s4(self.c3(x))                              # (N, 16, 5, 5)
            x = scaled_tanh(self.c5(x)).flatten(1)               # (N, 120)
            x = scaled_tanh(self.f6(x))                          # (N, 84)
        else:
            x = self.s2(self.c1(x).relu())                       # (N, 6, 14, 14)
            x = self.s4(self.c3(x).relu())                       # (N, 16, 5, 5)
            x = self.c5(x).relu().flatten(1)                     # (N, 120)
            x = self.f6(x).relu()                                # (N, 84)
        return self.output(x)                                    # (N, 10) logits

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}"
