"""The small Keras-style CNN of the lectures (Chollet's MNIST convnet), in PyTorch form.

    Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2x2)
    -> Conv2D(64, 3x3, relu) -> Flatten -> Dense(64, relu) -> Dense(10, softmax)

On a 28x28x1 input the shapes and parameter counts are (a conv layer holds
out·(in·3·3 + 1) parameters, a dense layer out·(in + 1))::

    conv1  (32, 26, 26)   32·(1·9 + 1)   =    320
    pool1  (32, 13, 13)                        0
    conv2  (64, 11, 11)   64·(32·9 + 1)  = 18,496
    pool2  (64, 5, 5)                          0
    conv3  (64, 3, 3)     64·(64·9 + 1)  = 36,928
    flatten (576,)                             0
    dense1 (64,)          64·(576 + 1)   = 36,928
    dense2 (10,)          10·(64 + 1)    =    650
                                   total   93,322

As everywhere in this library the model returns logits; the softmax lives in the loss.
``dropout=p`` inserts a Dropout before each dense layer (the regularisation step of the
lectures); it has no parameters.
"""
from __future__ import annotations

from tinygrad_edu.nn.activation import ReLU
from tinygrad_edu.nn.conv import Conv2d
from tinygrad_edu.nn.dropout import Dropout
from tinygrad_edu.nn.linear import Flatten, Linear
from tinygrad_edu.nn.module import Sequential
from tinygrad_edu.nn.pooling import MaxPool2d


class KerasCNN(Sequential):
    """Conv 32 - Pool - Conv 64 - Pool - Conv 64 - Flatten - Dense 64 - Dense 10.

    input (N, in_channels, 28, 28) -> (N, num_classes) logits; 93,322 parameters for MNIST.

    >>> KerasCNN().summary((1, 28, 28))
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 dropout: float = 0.0) -> None:
        layers = [
            Conv2d(in_channels, 32, 3), ReLU(),        # (32, 26, 26)
            MaxPool2d(2),                              # (32, 13, 13)
            Conv2d(32, 64, 3), ReLU(),                 # (64, 11, 11)
            MaxPool2d(2),                              # (64, 5, 5)
            Conv2d(64, 64, 3), ReLU(),                 # (64, 3, 3)
            Flatten(),                                 # (576,)
        ]
        if dropout:
            layers.append(Dropout(dropout))
        layers += [Linear(64 * 3 * 3, 64), ReLU()]     # (64,)
        if dropout:
            layers.append(Dropout(dropout))
        layers.append(Linear(64, num_classes))         # (10,)
        super().__init__(*layers)
