"""A Keras-style model summary: each layer, its output shape and its parameter count.

    >>> model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    >>> s = model.summary((784,))
               Model: "Sequential"
    ┏━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━┓
    ┃ Layer (type) ┃ Output Shape ┃ Param # ┃
    ┡━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━┩
    │ 0 (Linear)   │ (None, 256)  │ 200,960 │
    │ 1 (ReLU)     │ (None, 256)  │       0 │
    │ 2 (Linear)   │ (None, 10)   │   2,570 │
    └──────────────┴──────────────┴─────────┘
    Total params: 203,530
    Trainable params: 203,530
    Non-trainable params: 0
    >>> s.total, s.rows[0]["params"]
    (203530, 200960)

A Linear layer n → m holds n·m weights + m biases (784·256 + 256 = 200,960);
a Conv2d holds out·in·kh·kw + out.

How it works: the model runs on zeros of shape (1, *input_shape) and again
on (2, *input_shape), in eval mode and without a graph; the dims of an output
that change between the two runs are its batch dim, shown as None. Every
*leaf* module (one with no children) and every module that owns parameters
directly has its ``forward`` wrapped for the duration by an instance
attribute that records the output's shape; the wrappers are removed and the
train/eval flags restored afterwards. Rows come in call order, one per
module (its first call).

The totals count each parameter once (shared weights too). As in PyTorch and
unlike Keras, buffers such as BatchNorm's running mean are state, not
parameters, so they are not counted; "Non-trainable" are the parameters with
``requires_grad=False`` (frozen).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.functional import gradients
from tinygrad_edu.engine.tensor import Tensor, get_default_device
from tinygrad_edu.functional.creation import zeros


@dataclass
class Summary:
    """What ``summary`` found: one dict per layer and the parameter totals.

    Each row has keys ``name`` (the module's dotted path, e.g. ``'features.0'``),
    ``type`` (class name), ``output_shape`` (a tuple with None for the batch dim;
    a list of them for several outputs) and ``params`` (its own parameter count).
    """

    rows: list = field(default_factory=list)
    total: int = 0
    trainable: int = 0
    input_shape: Any = None
    title: str = "Model"

    @property
    def non_trainable(self) -> int:
        return self.total - self.trainable

    def table(self) -> Table:
        """The rich table (print it with ``rich.print`` or a Console)."""
        t = Table(title=f'Model: "{self.title}"', show_lines=False)
        t.add_column("Layer (type)", no_wrap=True)
        t.add_column("Output Shape", no_wrap=True)
        t.add_column("Param #", justify="right", no_wrap=True)
        for r in self.rows:
            t.add_row(f"{r['name']} ({r['type']})", format_shape(r["output_shape"]),
                      f"{r['params']:,}")
        t.caption = (f"Total params: {self.total:,}\nTrainable params: {self.trainable:,}\n"
                     f"Non-trainable params: {self.non_trainable:,}")
        t.caption_justify = "left"
        return t

    def __str__(self) -> str:
        buf = io.StringIO()
        Console(file=buf, width=100, color_system=None, force_terminal=False).print(self.table())
        return buf.getvalue()

    def __repr__(self) -> str:
        return (f"Summary(rows={len(self.rows)}, total={self.total:,}, "
                f"trainable={self.trainable:,})")


def format_shape(shape: Any) -> str:
    """(None, 256) -> '(None, 256)'; several outputs -> '[(None, 5, 20), (1, None, 20)]'."""
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    if isinstance(shape, tuple):
        inner = ", ".join("None" if d is None else str(d) for d in shape)
        return f"({inner},)" if len(shape) == 1 else f"({inner})"
    return str(shape)


def _raw_shape(out: Any) -> Any:
    """A forward's result -> its shape (a tuple), a list of those, or a type name."""
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return [_raw_shape(o) for o in out]
    return type(out).__name__


def _merge(one: Any, two: Any, batch: int | None) -> Any:
    """Shapes from a batch of 1 and a batch of 2: the dims that changed are the batch dim,
    shown as ``batch`` (None by default). This finds it wherever it is: dim 1 of a
    time-major RNN output, dim 1 of an LSTM's (num_layers, N, H) state."""
    if isinstance(one, tuple) and isinstance(two, tuple) and len(one) == len(two):
        return tuple(a if a == b else batch for a, b in zip(one, two))
    if isinstance(one, list) and isinstance(two, list) and len(one) == len(two):
        return [_merge(a, b, batch) for a, b in zip(one, two)]
    return one


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(isinstance(d, int) for d in x)


def summary(model: Any, input_shape: Sequence[int] | Sequence[Sequence[int]],
            batch_size: int | None = None, dtypes: Any = None, device: Any = None,
            print_summary: bool = True, console: Console | None = None) -> Summary:
    """Run ``model`` on zeros and tabulate each layer's output shape and parameters.

    input_shape: one input's shape *without* the batch dim, e.g. ``(1, 28, 28)``,
    or a list of shapes for a model with several inputs. dtypes: the input
    dtype(s) (float32 by default; an Embedding wants ``tg.int64``). batch_size:
    what to show for the batch dim (None, as Keras does).

    The model runs twice, on a batch of 1 and a batch of 2: a dim of an output
    that changes between the two is the batch dim.
    """
    if not callable(getattr(model, "named_modules", None)):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    if _is_shape(input_shape):
        shapes = [tuple(input_shape)]
    elif isinstance(input_shape, (tuple, list)) and input_shape and all(
            _is_shape(s) for s in input_shape):
        shapes = [tuple(s) for s in input_shape]
    else:
        raise ValueError(f"summary: input_shape must be a shape without the batch dim such as "
                         f"(1, 28, 28), or a list of such shapes; got {input_shape!r}")
    if any(d <= 0 for s in shapes for d in s):
        raise ValueError(f"summary: input_shape must have positive sizes, got {input_shape!r}")
    if batch_size is not None and batch_size <= 0:
        raise ValueError(f"summary: batch_size must be positive or None, got {batch_size}")
    if dtypes is None or not isinstance(dtypes, (list, tuple)):
        dtypes = [dtypes] * len(shapes)
    if len(dtypes) != len(shapes):
        raise ValueError(f"summary: {len(dtypes)} dtypes given for {len(shapes)} inputs")
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else get_default_device()
    runs: list = []          # per probe: id(module) -> [path, module, raw shape], call order
    patched: list = []       # (module, previous instance 'forward' or None)

    def wrap(path: str, m: Any) -> None:
        bound = m.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            record = runs[-1].setdefault(id(m), [path, m, None])   # ordered by call start
            out = bound(*args, **kwargs)
            if record[2] is None:
                record[2] = _raw_shape(out)
            return out

        patched.append((m, m.__dict__.get("forward")))
        object.__setattr__(m, "forward", forward)

    modes = [(m, m.training) for m in model.modules()]
    try:
        for path, m in model.named_modules():
            has_kids = next(m.children(), None) is not None
            own_params = any(p is not None for p in m._parameters.values())
            if not has_kids or own_params:
                wrap(path or type(m).__name__.lower(), m)
        model.eval()
        for n in (1, 2):
            runs.append({})
            inputs = [zeros((n,) + s, dtype=backend.as_dtype(dt) if dt is not None else None,
                            device=device) for s, dt in zip(shapes, dtypes)]
            with gradients.no_grad():
                try:
                    model(*inputs)
                except Exception as e:
                    msg = (f"summary: the forward pass on zeros of shape "
                           f"{[tuple(x.shape) for x in inputs]} failed: {e}")
                    try:
                        err = type(e)(msg)
                    except Exception:
                        err = RuntimeError(msg)
                    raise err from e
    finally:
        for m, previous in reversed(patched):
            if previous is None:
                m.__dict__.pop("forward", None)
            else:
                object.__setattr__(m, "forward", previous)
        for m, mode in modes:
            object.__setattr__(m, "training", mode)

    one, two = runs[-2], runs[-1]
    rows = []
    for key, (path, m, shape) in one.items():
        shape = _merge(shape, two[key][2] if key in two else shape, batch_size)
        count = sum(p.numel() for p in m._parameters.values() if p is not None)
        rows.append({"name": path, "type": type(m).__name__, "output_shape": shape,
                     "params": count})
    params = list(model.parameters())
    result = Summary(rows=rows, total=sum(p.numel() for p in params),
                     trainable=sum(p.numel() for p in params if p.requires_grad),
                     input_shape=shapes[0] if len(shapes) == 1 else shapes,
                     title=type(model).__name__)
    if print_summary:
        (console or Console()).print(result.table())
    return result


__all__ = ["Summary", "summary", "format_shape"]
