"""Ready-made models from the lectures: LeNet-5 (classic and modern) and the Keras-style CNN."""
from tinygrad_edu.models.keras_cnn import KerasCNN
from tinygrad_edu.models.lenet import (LENET5_C3_TABLE, LeNet5, PartialConv2d, Subsampling2d,
                                       scaled_tanh)
from tinygrad_edu.models.seq2seq import Seq2Seq

__all__ = ["LeNet5", "KerasCNN", "PartialConv2d", "Subsampling2d", "LENET5_C3_TABLE",
           "scaled_tanh", "Seq2Seq"]
