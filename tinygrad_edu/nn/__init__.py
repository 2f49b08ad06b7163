"""Neural-network layers, losses and containers (``torch.nn``'s names)."""
from tinygrad_edu.nn import init, utils
from tinygrad_edu.nn.activation import (ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU,
                                        Softmax, Softplus, Tanh)
from tinygrad_edu.nn.conv import Conv1d, Conv2d
from tinygrad_edu.nn.dropout import Dropout
from tinygrad_edu.nn.linear import Flatten, Identity, Linear
from tinygrad_edu.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                  KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from tinygrad_edu.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential
from tinygrad_edu.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from tinygrad_edu.nn.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d,
                                     LPPool1d, LPPool2d, MaxPool1d, MaxPool2d)
from tinygrad_edu.nn.rnn import (GRU, LSTM, RNN, GRUCell, LSTMCell, PeepholeLSTMCell, RNNCell)
from tinygrad_edu.nn.sparse import Embedding
from tinygrad_edu.nn.summary import Summary

__all__ = [
    "Dropout", "Embedding", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "CrossEntropyLoss",
    "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "utils", "Summary",
    "init", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Linear",
    "Identity", "Flatten", "ReLU", "Tanh", "Sigmoid", "LeakyReLU", "Softmax", "LogSoftmax",
    "GELU", "ELU", "SiLU", "Softplus", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "LPPool1d",
    "LPPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell",
]
