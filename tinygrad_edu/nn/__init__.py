"""Neural-network layers, losses and containers (``torch.nn``'s names)."""
from tinygrad_edu.nn import init
from tinygrad_edu.nn.activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinygrad_edu.nn.linear import Flatten, Identity, Linear
from tinygrad_edu.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = [
    "init", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Linear",
    "Identity", "Flatten", "ReLU", "Tanh", "Sigmoid", "LeakyReLU", "Softmax", "LogSoftmax",
]
