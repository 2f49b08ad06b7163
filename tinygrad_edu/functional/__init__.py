"""Composites: everything written once in terms of the primitives, differentiated for free.

Nothing in this package has a hand-written backward. ``softmax`` is exp, sum and
divide; ``cross_entropy`` is log_softmax and indexing; ``conv2d`` is a sliding-window
view, a reshape and a matmul. Names, signatures and defaults follow
``torch.nn.functional`` (``import tinygrad_edu.functional as F``).

    tensor_methods   Tensor methods built from others (mean, var, softmax, norm, ...)
    creation         zeros, ones, randn, arange, ...
    elementwise      activations and the softmax family
    layers           linear, dropout, embedding, one_hot, pad
    norms            batch_norm, layer_norm, normalize
    loss_functions   cross_entropy, nll_loss, mse_loss, binary_cross_entropy, ...
    convolution      conv1d, conv2d, true_conv2d
    window_pooling   max / average / Lp / adaptive pooling
    recurrent_cells  RNN, LSTM, GRU and peephole LSTM cells
"""
from tinygrad_edu.functional import tensor_methods  # noqa: F401  (attaches Tensor methods)
from tinygrad_edu.functional.convolution import conv1d, conv2d, conv_output_size, true_conv2d
from tinygrad_edu.functional.elementwise import (elu, gelu, hardtanh, leaky_relu, log_softmax,
                                                 logsigmoid, relu, sigmoid, silu, softmax,
                                                 softplus, tanh)
from tinygrad_edu.functional.layers import dropout, embedding, linear, one_hot, pad
from tinygrad_edu.functional.loss_functions import (binary_cross_entropy,
                                                    binary_cross_entropy_with_logits,
                                                    cross_entropy, huber_loss, kl_div, l1_loss,
                                                    mse_loss, nll_loss, smooth_l1_loss)
from tinygrad_edu.functional.norms import batch_norm, layer_norm, normalize
from tinygrad_edu.functional.recurrent_cells import (gru_cell, lstm_cell, peephole_lstm_cell,
                                                     rnn_relu_cell, rnn_tanh_cell)
from tinygrad_edu.functional.window_pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,
                                                    avg_pool1d, avg_pool2d, lp_pool1d, lp_pool2d,
                                                    max_pool1d, max_pool2d)

__all__ = [
    "relu", "sigmoid", "tanh", "leaky_relu", "softplus", "hardtanh", "softmax", "gelu",
    "silu", "elu", "logsigmoid", "smooth_l1_loss", "huber_loss",
    "log_softmax", "linear", "dropout", "embedding", "one_hot", "pad", "normalize", "nll_loss",
    "cross_entropy", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "batch_norm", "layer_norm",
    "conv1d", "conv2d", "true_conv2d", "conv_output_size", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "lp_pool1d", "lp_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell",
    "peephole_lstm_cell",
]
