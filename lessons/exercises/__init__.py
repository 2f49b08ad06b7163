"""Exercises: write the derivative, the convolution, the BPTT loop, the LSTM cell yourself.

Each exercise is one small file in this folder with one function (or one ``backward``)
to complete: its docstring states the maths and the shapes, and names the lesson and
the slide it belongs to. ``bash tools/course.sh --check NAME`` compares your function
with the library's own implementation on several random inputs (values, gradients,
second derivatives where they apply) and, when they differ, names the first node of
your computation where they part. ``--hint NAME`` shows one hint at a time;
``--exercises`` lists them all with your progress (kept in ``out/exercises/``).

Reference solutions are in ``solutions/`` (the tests use them); try not to peek.

    checker      runs the cases and the comparisons, and says what differs
    divergence   traces two computations and finds where they part
    specs        per exercise: the inputs, the library's reference, the named steps
    hints        two or three hints per exercise, each more detailed than the last
    progress     what you have solved, in out/exercises/progress.json
    __main__     the command line (bash tools/course.sh --exercises / --check / --hint)
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One exercise: its name (the file ``exercises/NAME.py``), the lesson it belongs to and
    the slide (the lesson's step) it practises."""
    name: str
    lesson: int
    topic: str
    slide: str


# The only place that knows lesson numbers: when the course is renumbered, change them here.
# Listed in the order of the course.
TABLE: tuple[Entry, ...] = (
    Entry("delta_rule", 1, "A neuron and its gradient", "The delta rule, derived by hand"),
    Entry("mul_backward", 2, "Backpropagation in an MLP", "Autograd computes the same error terms"),
    Entry("matmul_backward", 2, "Backpropagation in an MLP",
          "Backprop step 4: the hidden units' error terms, sent backwards"),
    Entry("conv2d", 4, "Convolution by hand", "Sliding the filter over a whole image"),
    Entry("conv2d_backward", 4, "Convolution by hand", "Learning the filter from examples"),
    Entry("max_pool2d", 8, "Stride, padding, pooling", "Where does the gradient of a pool go?"),
    Entry("cross_entropy", 11, "A Keras-style CNN", "Softmax + negative log-likelihood"),
    Entry("sgd_momentum", 11, "A Keras-style CNN", "The update rule: momentum and weight decay"),
    Entry("rnn_step", 14, "RNN: from a NumPy loop to autograd",
          "A recurrent layer is a for-loop that carries a state"),
    Entry("bptt", 15, "Backpropagation through time", "BPTT by hand"),
    Entry("sum_expand", 15, "Backpropagation through time",
          "A shared weight's gradient is the sum over its copies"),
    Entry("tanh_backward", 16, "Vanishing and exploding gradients",
          "With tanh: J_t = diag(1 − h_t²) U"),
    Entry("clip_grad_norm", 16, "Vanishing and exploding gradients",
          "Clipping bounds an exploding gradient"),
    Entry("lstm_cell", 17, "LSTM and GRU", "The LSTM cell, gate by gate"),
    Entry("gru_cell", 17, "LSTM and GRU", "The GRU: two gates and no separate cell"),
    Entry("greedy_decode", 21, "Sequence to sequence", "Greedy decoding on strings it has never seen"),
)

NAMES: tuple[str, ...] = tuple(e.name for e in TABLE)


def entry(name: str) -> Entry:
    """The table row of an exercise, by name or by its position in the list (1, 2, ...)."""
    if name.isdigit() and 1 <= int(name) <= len(TABLE):
        return TABLE[int(name) - 1]
    for e in TABLE:
        if e.name == name:
            return e
    raise KeyError(f"no exercise {name!r}: the exercises are {', '.join(NAMES)} "
                   f"(or their numbers 1-{len(TABLE)}; --exercises lists them)")
