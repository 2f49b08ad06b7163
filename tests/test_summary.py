"""Keras-style summary: hand-computed parameter counts, output shapes, the printed table,
and that the model is left exactly as it was."""
from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

import tinygrad_edu as tg
from tinygrad_edu import nn


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def test_mlp_counts_by_hand():
    s = _mlp().summary((784,), print_summary=False)
    # 784·256 + 256 = 200,960 ; 256·10 + 10 = 2,570
    assert [r["params"] for r in s.rows] == [200_960, 0, 2_570]
    assert s.total == s.trainable == 203_530 and s.non_trainable == 0
    assert [r["output_shape"] for r in s.rows] == [(None, 256), (None, 256), (None, 10)]
    assert [(r["name"], r["type"]) for r in s.rows] == [("0", "Linear"), ("1", "ReLU"),
                                                        ("2", "Linear")]


def test_printed_table():
    buf = io.StringIO()
    _mlp().summary((784,), console=Console(file=buf, width=120, color_system=None))
    text = buf.getvalue()
    for piece in ("Layer (type)", "Output Shape", "Param #", "0 (Linear)", "(None, 256)",
                  "200,960", "2,570", "Total params: 203,530", "Trainable params: 203,530",
                  "Non-trainable params: 0"):
        assert piece in text, piece
    assert "Total params: 203,530" in str(_mlp().summary((784,), print_summary=False))


def test_keras_style_cnn_counts_by_hand():
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),      # 32·1·3·3 + 32 = 320
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),     # 64·32·9 + 64 = 18,496
        nn.Conv2d(64, 64, 3), nn.ReLU(),                      # 64·64·9 + 64 = 36,928
        nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(),   # 576·64 + 64 = 36,928
        nn.Dropout(0.5), nn.Linear(64, 10))                   # 64·10 + 10 = 650
    s = model.summary((1, 28, 28), print_summary=False)
    params = [r["params"] for r in s.rows if r["params"]]
    assert params == [320, 18_496, 36_928, 36_928, 650]
    assert s.total == 93_322
    shapes = [r["output_shape"] for r in s.rows]
    assert shapes[:3] == [(None, 32, 26, 26), (None, 32, 26, 26), (None, 32, 13, 13)]
    assert shapes[5] == (None, 64, 5, 5) and shapes[8] == (None, 576)


class _Net(nn.Module):
    """Not a Sequential: the forward calls layers in a different order than defined,
    reuses one, and nests a container."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(16, 3)                  # defined first, called last
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.MaxPool2d(2))
        self.act = nn.Tanh()

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        h = self.act(self.features(x).flatten(1))
        return self.act(self.head(h))


def test_custom_module_rows_in_call_order():
    model = _Net()
    s = model.summary((1, 4, 4), print_summary=False)
    assert [r["name"] for r in s.rows] == ["features.0", "features.1", "features.2",
                                           "features.3", "act", "head"]
    assert [r["params"] for r in s.rows] == [4 * 9 + 4, 8, 0, 0, 0, 16 * 3 + 3]
    assert s.rows[3]["output_shape"] == (None, 4, 2, 2)
    assert s.total == 40 + 8 + 51


def test_model_is_left_untouched():
    model = _Net()
    model.train()
    model.features[1].train(False)        # a mixed state must come back as it was
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.summary((1, 4, 4), print_summary=False)
    assert model.training and not model.features[1].training and model.features[0].training
    for m in model.modules():
        assert "forward" not in m.__dict__
    for k, v in model.state_dict().items():   # batch-norm statistics not updated
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_frozen_parameters_are_non_trainable():
    model = _mlp()
    model[0].requires_grad_(False)
    s = model.summary((784,), print_summary=False)
    assert (s.total, s.trainable, s.non_trainable) == (203_530, 2_570, 200_960)


def test_shared_layer_counted_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    s = model.summary((4,), print_summary=False)
    assert s.total == 20 and len(s.rows) == 2


def test_batch_dim_found_where_it_is_and_batch_size_shown():
    class TimeMajor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(20, 6)

        def forward(self, x: tg.Tensor) -> tuple:
            e = self.emb(x)                        # (N, T, 6)
            return e.transpose(0, 1), e.sum(1)     # (T, N, 6), (N, 6)

    s = TimeMajor().summary((5,), dtypes=tg.int64, print_summary=False)
    assert s.rows[0]["output_shape"] == (None, 5, 6)
    s = TimeMajor().summary((5,), dtypes=tg.int64, batch_size=32, print_summary=False)
    assert s.rows[0]["output_shape"] == (32, 5, 6)

    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = TimeMajor()

        def forward(self, x: tg.Tensor) -> tuple:
            return self.inner(x)

    pair = Pair()
    pair.inner.forward = pair.inner.forward   # an instance attribute is restored, not lost
    s = pair.summary((5,), dtypes=tg.int64, print_summary=False)
    assert "forward" in pair.inner.__dict__
    assert s.rows[0]["name"] == "inner.emb"


def test_tuple_outputs_and_several_inputs():
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 2)
            self.b = nn.Linear(5, 2)

        def forward(self, x: tg.Tensor, y: tg.Tensor) -> tuple:
            return self.a(x), self.b(y)

    class Wrap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(tg.ones(1))     # a module with its own parameter gets a row
            self.two = Two()

        def forward(self, x: tg.Tensor, y: tg.Tensor) -> tuple:
            p, q = self.two(x, y)
            return p * self.w, q.transpose(0, 1)

    s = Wrap().summary([(3,), (5,)], print_summary=False)
    assert s.rows[0] == {"name": "wrap", "type": "Wrap",
                         "output_shape": [(None, 2), (2, None)], "params": 1}
    assert [r["name"] for r in s.rows[1:]] == ["two.a", "two.b"]
    from tinygrad_edu.nn.summary import format_shape
    assert format_shape(s.rows[0]["output_shape"]) == "[(None, 2), (2, None)]"
    assert format_shape((None,)) == "(None,)"


def test_summary_errors():
    with pytest.raises(ValueError, match=r"input_shape must be a shape without the batch dim "
                                         r"such as \(1, 28, 28\).*got 'abc'"):
        _mlp().summary("abc")
    with pytest.raises(ValueError, match=r"must have positive sizes, got \(0, 3\)"):
        _mlp().summary((0, 3))
    with pytest.raises(ValueError, match="batch_size must be positive or None, got 0"):
        _mlp().summary((784,), batch_size=0)
    with pytest.raises(ValueError, match="2 dtypes given for 1 inputs"):
        _mlp().summary((784,), dtypes=[tg.float32, tg.float32])
    with pytest.raises(RuntimeError, match=r"summary: the forward pass on zeros of shape "
                                           r"\[\(1, 100\)\] failed: linear: input has 100 "
                                           r"features"):
        _mlp().summary((100,), print_summary=False)
    from tinygrad_edu.nn.summary import summary
    with pytest.raises(TypeError, match="summary: expected an nn.Module, got function"):
        summary(lambda x: x, (3,))


def test_forward_restored_after_error():
    model = _mlp()
    with pytest.raises(RuntimeError):
        model.summary((100,), print_summary=False)
    assert all("forward" not in m.__dict__ for m in model.modules())
    assert model(tg.zeros(2, 784)).shape == (2, 10)
