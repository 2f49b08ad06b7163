"""PyTorch's own test database run through tinygrad_edu: the shared harness.

PyTorch describes each of its ops in ``op_db`` (an ``OpInfo`` per op: the function, the
dtypes it supports, and a generator of sample inputs that its own tests run) and each
``nn`` layer in ``module_db`` (a ``ModuleInfo``: constructor and forward inputs). This
module runs those samples through tinygrad_edu and compares the results with PyTorch's:

* the MAPPING TABLE (:data:`OP_ROWS`, :data:`MODULE_ROWS`) names, for each op_db / module_db
  entry we have (or that issue 12 requires us to add), our counterpart: a Tensor method,
  a ``tg.`` function, an ``F.`` function or an ``nn.`` layer;
* every sample is converted (torch tensors -> tg tensors with the same values, dtype and
  requires_grad; torch dtypes -> tg dtypes; everything else passed through) and run on
  both sides;
* outputs are compared for structure, shape, dtype and value (NaN and ±inf positions must
  match exactly, finite values within a per-dtype tolerance), inputs that the op changes in
  place (batch norm's running statistics) are compared after the call, and for samples
  that need gradients the gradient of every floating input with respect to a fixed random
  upstream gradient is compared with ``torch.autograd.grad`` (also NaN-strict);
* the EXPECTED-FAILURES table (:data:`EXPECTED_FAILURES`) lists deliberate refusals only;
  such an entry is checked to really raise one of our own clear errors, and an entry that
  no longer fails is itself reported.

Each sample ends in one :class:`Outcome` whose category says what happened. The test
module (``tests/test_torch_opdb.py``) fails on every category but pass, expected failure
and not-applicable; the report tool (``python -m tools.opdb_report``) tabulates them all.

This module imports torch; import it only where torch is installed.
"""
from __future__ import annotations

import itertools
import numbers
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.testing._internal.common_methods_invocations import op_db
from torch.testing._internal.common_modules import module_db

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn

# ---------------------------------------------------------------- outcome categories
PASS = "pass"
XFAIL = "expected failure"
NOT_APPLICABLE = "not applicable"
VALUE = "value mismatch"
DTYPE = "dtype mismatch"
SHAPE = "shape mismatch"            # also a different structure (a tensor for a tuple, ...)
NAN = "NaN/inf mismatch"            # forward: NaN or ±inf where torch has a finite value, or back
GRAD = "grad mismatch"              # any difference in a gradient (NaN ones included)
REFUSAL = "our clear refusal"       # TypeError/NotImplementedError raised by our code or signature
OUR_ERROR = "our error"             # another exception raised by a `raise` in our code
CRASH = "deep crash"                # anything else: NumPy, Python, an AttributeError inside
MISSING = "missing API"             # the counterpart does not exist
XPASS = "stale expected failure"    # an expected failure that did not fail
BAD_XFAIL = "expected failure that is not a clear refusal"

#: categories that are not failures
OK_CATEGORIES = (PASS, XFAIL, NOT_APPLICABLE)
#: silent wrong answers first, then crashes, then what is missing (the report's order)
FAILURE_ORDER = (VALUE, NAN, DTYPE, SHAPE, GRAD, CRASH, OUR_ERROR, REFUSAL, MISSING, XPASS,
                 BAD_XFAIL)

# ---------------------------------------------------------------- dtypes and tolerances
#: the dtypes a sample's tensors may use; anything else makes the sample "not applicable"
TG_DTYPES = {torch.float32: tg.float32, torch.float64: tg.float64, torch.int64: tg.int64,
             torch.int32: tg.int32, torch.bool: tg.bool_}
#: the float dtypes every op runs in (an integer-only op runs in int64 instead)
RUN_DTYPES = (torch.float32, torch.float64)
#: (rtol, atol) per dtype, as torch.testing.assert_close uses them (float32 rtol rounded up)
DEFAULT_TOL = {"float32": (1e-5, 1e-5), "float64": (1e-7, 1e-7)}

PACKAGE_DIR = str(Path(tg.__file__).resolve().parent)
THIS_FILE = str(Path(__file__).resolve())


def dtype_name(dtype: Any) -> str:
    """'float32', 'int64', 'bool', ... for a torch or a NumPy (tg) dtype."""
    return str(dtype).removeprefix("torch.")


# ---------------------------------------------------------------- the mapping table
@dataclass(frozen=True)
class Row:
    """One op_db entry (``name``, ``variant``) and our counterpart for it.

    ``kind`` says where the counterpart lives: ``'method'`` (``input.<attr>(*args,
    **kwargs)``), ``'tg'`` (``tg.<attr>(input, *args, **kwargs)``) or ``'F'``
    (``F.<attr>(input, ...)``). ``call`` replaces that where op_db's calling convention
    differs from ours (it receives the converted input, args and kwargs). ``label``
    tells apart two rows for one entry (``%`` and ``.remainder``). ``tol`` loosens the
    tolerance for a dtype (``grad_tol`` for gradients only, where it differs) and ``why``
    must then say why; ``values`` (a predicate on the
    torch sample) turns the value and gradient comparison off for random or uninitialised
    results, where only shape and dtype can be compared. ``extra_kwargs`` are added to
    every sample on both sides (``device='cpu'`` for the ``*_like`` creators).
    """
    name: str
    variant: str = ""
    kind: str = ""
    attr: str = ""
    call: Callable | None = None
    label: str = ""
    tol: dict = field(default_factory=dict)
    grad_tol: dict | None = None
    values: Callable[[Any], bool] | None = None
    extra_kwargs: dict = field(default_factory=dict)
    why: str = ""

    def __post_init__(self) -> None:
        base = self.name.removeprefix("nn.functional.")
        if not self.kind:
            object.__setattr__(self, "kind", "F" if self.name.startswith("nn.") else "method")
        if not self.attr:
            object.__setattr__(self, "attr", base)
        if (self.tol or self.grad_tol or self.values) and not self.why:
            raise ValueError(f"Row {self.name}: a looser tolerance or skipped values need a why")

    @property
    def id(self) -> str:
        """``name[.variant][label]``, unique over the table."""
        out = self.name + (f".{self.variant}" if self.variant else "")
        return out + (f"[{self.label}]" if self.label else "")

    @property
    def counterpart(self) -> str:
        """Our counterpart in words, e.g. ``Tensor.sum``, ``tg.cat``, ``F.pad``."""
        if self.call is not None and self.label:
            return self.label
        return {"method": "Tensor.", "tg": "tg.", "F": "F."}[self.kind] + self.attr

    def exists(self) -> bool:
        """Whether our public API has the counterpart (hasattr on tg.Tensor, tg, F)."""
        owner = {"method": tg.Tensor, "tg": tg, "F": F}[self.kind]
        return hasattr(owner, self.attr)

    def run(self, input: Any, args: tuple, kwargs: dict) -> Any:
        """Call our counterpart on already converted arguments."""
        if self.call is not None:
            return self.call(input, *args, **kwargs)
        if self.kind == "method":
            return getattr(input, self.attr)(*args, **kwargs)
        owner = tg if self.kind == "tg" else F
        return getattr(owner, self.attr)(input, *args, **kwargs)


def _random(sample: Any) -> bool:
    """Values of a random or uninitialised creator can't be compared (only shape and dtype)."""
    return False


def _dropout_is_deterministic(sample: Any) -> bool:
    """Dropout is the identity when not training or when p = 0; otherwise the mask is random."""
    return not sample.kwargs.get("training", True) or sample.kwargs.get("p", 0.5) == 0


_RANDOM_WHY = "random or uninitialised values: only shape and dtype are compared"
_MATMUL_WHY = ("float32 gradients sum up to 125 products of magnitude ~10 with "
               "cancellation: rounding alone (torch's as much as ours, both measured against "
               "float64) reaches 3e-5 absolute; float64 holds 1e-7")
_LIKE = {"device": "cpu"}

#: every op_db entry we map, with our counterpart (issue 12 asks for the ones marked
#: "required" even where we lack them yet: they then fail as "missing API")
OP_ROWS: tuple[Row, ...] = (
    # ---- elementwise arithmetic and operators
    Row("add"), Row("sub"), Row("mul"), Row("neg"),
    Row("pow", tol={"float32": (1e-5, 1e-4)},
        why="float32 gradients of x**y reach |g| ~ 1e4 here (up to 1e9 with the relative "
            "term): measured against float64, our float32 error is up to 1.4e-6 of max|g| "
            "(tensor**tensor is exp(y·log x)), torch's 2e-8; float64 holds 1e-7"),
    Row("div", "no_rounding_mode", attr="div"),
    Row("div", "trunc_rounding", attr="div"),                       # required: rounding_mode
    Row("div", "floor_rounding", attr="div"),                       # required: rounding_mode
    Row("floor_divide", attr="__floordiv__", label="//"),           # required
    Row("floor_divide", label="floor_divide"),                      # required
    Row("remainder", attr="__mod__", label="%"),                    # required
    Row("remainder", label="remainder"),                            # required
    Row("__radd__"), Row("__rsub__"), Row("__rmul__"), Row("__rpow__"),
    Row("__rmatmul__", tol={"float32": (1e-5, 1e-4)}, why=_MATMUL_WHY),
    Row("__rdiv__", attr="__rtruediv__"), Row("__rmod__"),          # __rmod__ required (%)
    Row("matmul", tol={"float32": (1e-5, 1e-4)}, why=_MATMUL_WHY),   # required
    Row("maximum"), Row("minimum"),                                 # required
    Row("max", "binary", attr="max"), Row("min", "binary", attr="min"),
    Row("eq"), Row("ne", attr="__ne__"), Row("lt", attr="__lt__"), Row("le", attr="__le__"),
    Row("gt", attr="__gt__"), Row("ge", attr="__ge__"),
    Row("lerp"), Row("clamp"), Row("where"), Row("masked_fill"),
    # ---- elementwise functions
    Row("abs"), Row("exp"), Row("log"), Row("log1p"), Row("sin"), Row("cos"), Row("tanh"),
    Row("sigmoid"), Row("sqrt"), Row("rsqrt"), Row("square"), Row("reciprocal"), Row("sign"),
    Row("isfinite"), Row("isnan"),
    Row("floor"), Row("ceil"), Row("round"),                        # required
    Row("round", "decimals_0"), Row("round", "decimals_3"), Row("round", "decimals_neg_3"),
    # ---- reductions
    Row("sum"), Row("mean"), Row("prod"), Row("amax"), Row("amin"), Row("argmax"),
    Row("argmin"), Row("std"), Row("std", "unbiased"), Row("var"), Row("var", "unbiased"),
    Row("all"), Row("any"),                                         # required: with dim
    Row("max", "reduction_with_dim"), Row("max", "reduction_no_dim"),
    Row("min", "reduction_with_dim"), Row("min", "reduction_no_dim"),
    Row("logsumexp"),                                               # required
    Row("norm"), Row("norm", "fro"), Row("norm", "nuc"), Row("norm", "inf"),
    Row("cumsum"),                                                  # required
    Row("softmax"), Row("softmax", "with_dtype"),                   # required: dtype=
    Row("log_softmax"), Row("log_softmax", "with_dtype"),
    Row("softmax", kind="F", label="F"), Row("softmax", "with_dtype", kind="F", label="F"),
    Row("log_softmax", kind="F", label="F"),
    Row("log_softmax", "with_dtype", kind="F", label="F"),
    # ---- movement and indexing
    Row("reshape"), Row("reshape_as"), Row("view"), Row("view_as"), Row("flatten"),
    Row("unflatten"), Row("squeeze"), Row("squeeze", "multiple"), Row("unsqueeze"),
    Row("permute"), Row("transpose"), Row("t"),
    Row("T", call=lambda x: x.T, label="Tensor.T"),
    Row("mT", call=lambda x: x.mT, label="Tensor.mT"),
    Row("expand"), Row("expand_as"), Row("broadcast_to"), Row("flip"), Row("repeat"),
    Row("chunk"), Row("split"), Row("split", "list_args"), Row("unbind"), Row("unfold"),
    Row("gather"), Row("__getitem__"), Row("clone"), Row("contiguous"),
    Row("roll"), Row("tril"), Row("triu"), Row("sort"), Row("topk"),  # required
    # ---- conversions and in place
    Row("to"), Row("item"), Row("bool"), Row("double"), Row("float"), Row("int"), Row("long"),
    Row("half"),
    Row("zero_", call=lambda x: x.clone().zero_(), label="Tensor.clone().zero_()"),
    # ---- functions of the tg namespace (creation, joining)
    Row("cat", kind="tg"), Row("stack", kind="tg"), Row("arange", kind="tg"),
    Row("linspace", kind="tg"), Row("linspace", "tensor_overload", kind="tg"),
    Row("zeros", kind="tg"), Row("ones", kind="tg"), Row("full", kind="tg"),
    Row("eye", kind="tg"),
    Row("empty", kind="tg", values=_random, why=_RANDOM_WHY),
    Row("randn", kind="tg", values=_random, why=_RANDOM_WHY),
    Row("randint", kind="tg", values=_random, why=_RANDOM_WHY),
    Row("zeros_like", kind="tg", extra_kwargs=_LIKE),                # required: device=
    Row("ones_like", kind="tg", extra_kwargs=_LIKE),
    Row("full_like", kind="tg", extra_kwargs=_LIKE),
    Row("empty_like", kind="tg", extra_kwargs=_LIKE, values=_random, why=_RANDOM_WHY),
    Row("rand_like", kind="tg", extra_kwargs=_LIKE, values=_random, why=_RANDOM_WHY),
    Row("randn_like", kind="tg", extra_kwargs=_LIKE, values=_random, why=_RANDOM_WHY),
    Row("randint_like", kind="tg", extra_kwargs=_LIKE, values=_random, why=_RANDOM_WHY),
    # ---- torch.nn.functional
    Row("nn.functional.relu"), Row("nn.functional.leaky_relu"), Row("nn.functional.softplus"),
    Row("nn.functional.hardtanh"),
    Row("nn.functional.gelu"), Row("nn.functional.silu"), Row("nn.functional.elu"),  # required
    Row("nn.functional.logsigmoid"),                                                   # required
    Row("nn.functional.dropout", values=_dropout_is_deterministic,
        why="a training-mode mask is random: values are compared only when training=False "
            "or p=0"),
    Row("nn.functional.linear"), Row("nn.functional.conv1d"), Row("nn.functional.conv2d"),
    Row("nn.functional.avg_pool1d"), Row("nn.functional.avg_pool2d"),
    Row("nn.functional.max_pool1d"), Row("nn.functional.max_pool2d"),
    Row("nn.functional.adaptive_avg_pool1d"), Row("nn.functional.adaptive_avg_pool2d"),
    Row("nn.functional.batch_norm"), Row("nn.functional.batch_norm", "without_cudnn"),
    Row("nn.functional.layer_norm", grad_tol={"float32": (1e-5, 2e-4)},
        why="normalising a single element: the true input gradient is 0 (ours gives 0), "
            "torch's float32 kernel returns rounding noise of about 1e-4 (1/√eps · ulp)"),
    Row("nn.functional.normalize"),
    Row("nn.functional.pad", "constant"),
    Row("nn.functional.pad", "reflect"), Row("nn.functional.pad", "replicate"),  # required
    Row("nn.functional.pad", "replicate_negative"), Row("nn.functional.pad", "circular"),
    Row("nn.functional.embedding", label="F.embedding",
        call=lambda weight, idx, **kw: F.embedding(idx, weight, **kw)),
    Row("nn.functional.one_hot"),
    Row("nn.functional.cross_entropy"), Row("nn.functional.nll_loss"),
    Row("nn.functional.mse_loss"), Row("nn.functional.l1_loss"),
    Row("nn.functional.binary_cross_entropy"),
    Row("nn.functional.binary_cross_entropy_with_logits"), Row("nn.functional.kl_div"),
    Row("nn.functional.smooth_l1_loss"), Row("nn.functional.huber_loss"),       # required
)


@dataclass(frozen=True)
class ModuleRow:
    """One module_db entry (by class name) and our ``nn.<name>``; ``tol`` as in :class:`Row`."""
    name: str
    tol: dict = field(default_factory=dict)
    why: str = ""

    @property
    def id(self) -> str:
        return f"nn.{self.name}"

    def exists(self) -> bool:
        return hasattr(nn, self.name)


#: every module_db class we have (module_db has no Dropout, Flatten or Identity entry:
#: those are covered by op_db's nn.functional.dropout and flatten rows)
MODULE_ROWS: tuple[ModuleRow, ...] = tuple(ModuleRow(n) for n in (
    "Linear", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "LPPool1d", "LPPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "BatchNorm1d",
    "BatchNorm2d", "LayerNorm", "Embedding", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
    "LogSoftmax", "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "L1Loss", "MSELoss",
    "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "GELU", "ELU", "SiLU",
    "Softplus", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
))


# ---------------------------------------------------------------- expected failures
@dataclass(frozen=True)
class ExpectedFailure:
    """A deliberate refusal (PyTorch's xfail): the row ``row_id`` (``Row.id`` or
    ``ModuleRow.id``) on the samples that ``when`` selects (all when None).

    Only clear refusals belong here: our own code raising TypeError or
    NotImplementedError, or a ValueError/RuntimeError, whose message contains ``match``
    (the unsupported argument, mode or dtype). The harness checks that each selected
    sample really fails that way; anything else is reported as a failure.
    """
    row_id: str
    match: str
    reason: str
    when: Callable[[Any], bool] | None = None

    def applies(self, row_id: str, sample: Any) -> bool:
        return row_id == self.row_id and (self.when is None or self.when(sample))


def _has_grad_input(sample: Any) -> bool:
    return isinstance(sample.input, torch.Tensor) and sample.input.requires_grad


EXPECTED_FAILURES: tuple[ExpectedFailure, ...] = (
    ExpectedFailure("zero_[Tensor.clone().zero_()]", "in-place ops on a tensor that is part of "
                    "a graph", "in-place ops inside a recorded graph are refused by design "
                    "(README: the graph's saved values must stay valid)", when=_has_grad_input),
    ExpectedFailure("norm.nuc", "norm: p='nuc' is not supported", "the nuclear norm needs "
                    "an SVD, which the engine has no primitive for (README: deliberately "
                    "different)"),
)


# ---------------------------------------------------------------- outcomes
@dataclass
class Outcome:
    """What happened to one sample: its category and, for a failure, the details."""
    row_id: str
    dtype: str
    index: int
    sample: str                  # a short description of the sample's arguments
    category: str
    detail: str = ""
    where: str = ""              # innermost frame (and innermost tinygrad_edu frame, if other)
    counterpart: str = ""

    @property
    def failed(self) -> bool:
        return self.category not in OK_CATEGORIES

    def line(self) -> str:
        where = f"  [{self.where}]" if self.where else ""
        return (f"{self.row_id} {self.dtype} sample {self.index} ({self.sample}): "
                f"{self.category}: {self.detail}{where}")


class Problem(Exception):
    """A comparison that failed: its category and a message."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(message)
        self.category = category


# ---------------------------------------------------------------- describing samples
def describe(obj: Any) -> str:
    """A short text of a sample argument: ``T(2, 3) float32 rg``, small values inline."""
    if isinstance(obj, torch.Tensor):
        text = f"T{tuple(obj.shape)} {dtype_name(obj.dtype)}"
        if obj.numel() <= 4 and not obj.is_complex():
            values = obj.detach().reshape(-1).tolist()
            text += " [" + ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v)
                                     for v in values) + "]"
        return text + (" rg" if obj.requires_grad else "")
    if isinstance(obj, (list, tuple)) and not isinstance(obj, torch.Size):
        inner = ", ".join(describe(o) for o in obj)
        return f"[{inner}]" if isinstance(obj, list) else f"({inner}{',' if len(obj) == 1 else ''})"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{k}={describe(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, torch.Size):
        return str(tuple(obj))
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def describe_sample(sample: Any) -> str:
    parts = [describe(sample.input)]
    parts += [describe(a) for a in sample.args]
    parts += [f"{k}={describe(v)}" for k, v in sample.kwargs.items()]
    return ", ".join(parts)


# ---------------------------------------------------------------- conversion
def not_applicable_reason(*objs: Any) -> str | None:
    """Why a sample can't be run here, or None: a tensor or dtype outside
    {float32, float64, int64, int32, bool} (complex included), or a torch-only object
    (a memory format other than the default, a layout, a generator). (A method row whose
    sample input is a Python number is not applicable either: see run_op_sample.)"""
    for obj in objs:
        if isinstance(obj, torch.Tensor):
            if obj.dtype not in TG_DTYPES:
                return f"tensor of dtype {dtype_name(obj.dtype)}"
        elif isinstance(obj, torch.dtype):
            if obj not in TG_DTYPES:
                return f"dtype argument {dtype_name(obj)}"
        elif isinstance(obj, torch.memory_format):
            if obj is not torch.preserve_format:
                return f"memory format {obj}"
        elif isinstance(obj, (torch.layout, torch.Generator)):
            return f"torch-only argument {obj!r}"
        elif isinstance(obj, complex):
            return "complex number"
        elif isinstance(obj, (list, tuple)):
            reason = not_applicable_reason(*obj)
            if reason:
                return reason
        elif isinstance(obj, dict):
            reason = not_applicable_reason(*obj.values())
            if reason:
                return reason
    return None


class Mirror:
    """Two copies of a torch sample's tensors, one for each side.

    ``torch(obj)`` replaces every tensor by a fresh torch leaf with the same values, dtype
    and requires_grad (op_db builds some inputs as views or reuses them between samples;
    a fresh leaf makes torch's own gradient well defined). ``tg(obj)`` converts for
    tinygrad_edu: tensors keep values, dtype and requires_grad; torch dtypes become tg
    dtypes; a torch.device becomes its string; torch.Size a tuple; ``memory_format=
    torch.preserve_format`` (the default) is dropped; everything else passes through.

    One tensor object gives one copy on each side (a tensor passed twice stays one
    tensor), and :attr:`pairs` remembers which torch copy goes with which tg copy.
    """

    def __init__(self) -> None:
        self.pairs: dict[int, tuple[torch.Tensor, tg.Tensor]] = {}

    def _pair(self, t: torch.Tensor) -> tuple[torch.Tensor, tg.Tensor]:
        if id(t) not in self.pairs:
            grad = t.requires_grad and t.is_floating_point()
            theirs = t.detach().clone().requires_grad_(grad)
            ours = tg.tensor(t.detach().cpu().numpy(), dtype=TG_DTYPES[t.dtype],
                             requires_grad=grad)
            self.pairs[id(t)] = (theirs, ours)
        return self.pairs[id(t)]

    def torch(self, obj: Any) -> Any:
        """The sample for torch, every tensor a fresh leaf."""
        if isinstance(obj, torch.Tensor):
            return self._pair(obj)[0]
        if isinstance(obj, (tuple, list)) and not isinstance(obj, torch.Size):
            return type(obj)(self.torch(o) for o in obj)
        if isinstance(obj, dict):
            return {k: self.torch(v) for k, v in obj.items()}
        return obj

    def tg(self, obj: Any) -> Any:
        """The sample for tinygrad_edu."""
        if isinstance(obj, torch.Tensor):
            return self._pair(obj)[1]
        if isinstance(obj, torch.dtype):
            return TG_DTYPES[obj]
        if isinstance(obj, torch.device):
            return str(obj)
        if isinstance(obj, torch.Size):
            return tuple(obj)
        if isinstance(obj, (tuple, list)):
            return type(obj)(self.tg(o) for o in obj)
        if isinstance(obj, dict):
            return {k: self.tg(v) for k, v in obj.items() if not (
                k == "memory_format" and v is torch.preserve_format)}
        return obj

    def grad_pairs(self) -> list[tuple[torch.Tensor, tg.Tensor, str]]:
        """(torch, ours, name) for every floating tensor that requires grad, named by its
        place among the sample's tensors (input first, then args, then kwargs)."""
        return [(t, o, f"tensor argument {j} {tuple(t.shape)}")
                for j, (t, o) in enumerate(self.pairs.values()) if t.requires_grad]


# ---------------------------------------------------------------- comparison
def _tol(dtype: str, overrides: dict) -> tuple[float, float]:
    return overrides.get(dtype, DEFAULT_TOL.get(dtype, (0.0, 0.0)))


def _fmt(value: Any) -> str:
    """A number for a message: floats to 8 significant digits, others as they print."""
    value = value.item() if hasattr(value, "item") else value
    return f"{value:.8g}" if isinstance(value, float) else repr(value)


def compare_arrays(ours: np.ndarray, ref: np.ndarray, tol: tuple[float, float], what: str,
                   category_for_values: str = VALUE) -> None:
    """Raise :class:`Problem` unless ``ours`` matches ``ref``: same NaN and ±inf positions
    (never NaN = anything else, in either direction), finite values with
    ``|ours - ref| <= atol + rtol·|ref|``, exact equality for integers and bools."""
    rtol, atol = tol
    if ref.dtype.kind in "fc":
        o, r = ours.astype(np.float64), ref.astype(np.float64)
        nan_o, nan_r = np.isnan(o), np.isnan(r)
        inf_o, inf_r = np.isinf(o), np.isinf(r)
        bad = (nan_o != nan_r) | (inf_o != inf_r) | (inf_o & inf_r & (np.sign(o) != np.sign(r)))
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            raise Problem(NAN if category_for_values == VALUE else category_for_values,
                          f"{what}: {int(bad.sum())} NaN/inf position(s) differ, first at "
                          f"{i}: ours {_fmt(o[i])}, torch {_fmt(r[i])}")
        finite = np.isfinite(r) & np.isfinite(o)
        err = np.where(finite, np.abs(o - r), 0.0)
        allowed = atol + rtol * np.abs(np.where(finite, r, 0.0))
        if (err > allowed).any():
            i = tuple(int(v) for v in np.unravel_index(np.argmax(err - allowed), err.shape))
            raise Problem(category_for_values,
                          f"{what}: {int((err > allowed).sum())} of {err.size} values differ, "
                          f"worst at {i}: ours {_fmt(o[i])}, torch {_fmt(r[i])} "
                          f"(|diff| {err[i]:.3g} > {allowed[i]:.3g})")
    elif not np.array_equal(ours.astype(ref.dtype) if ours.dtype != ref.dtype else ours, ref):
        bad = ours != ref
        i = tuple(int(v) for v in np.argwhere(bad)[0]) if bad.ndim else ()
        raise Problem(category_for_values,
                      f"{what}: {int(np.sum(bad))} of {ref.size} values differ, first at {i}: "
                      f"ours {_fmt(ours[i])}, torch {_fmt(ref[i])}")


def compare_tensor(ours: Any, ref: torch.Tensor, tol_overrides: dict, what: str,
                   values: bool = True) -> None:
    """Shape, then dtype, then values (NaN-strict) of one output against torch's."""
    if not isinstance(ours, tg.Tensor):
        raise Problem(SHAPE, f"{what}: ours is a {type(ours).__name__}, torch gives a tensor")
    if tuple(ours.shape) != tuple(ref.shape):
        raise Problem(SHAPE, f"{what}: shape {tuple(ours.shape)}, torch {tuple(ref.shape)}")
    ref_dtype = dtype_name(ref.dtype)
    if dtype_name(ours.dtype) != ref_dtype:
        extra = ""
        if values and ref.dtype in TG_DTYPES:
            try:
                compare_arrays(ours.detach().numpy(), ref.detach().cpu().numpy(),
                               _tol(ref_dtype, tol_overrides), what)
                extra = " (values agree)"
            except Problem as p:
                extra = f" (values differ too: {p})"
        raise Problem(DTYPE, f"{what}: dtype {dtype_name(ours.dtype)}, torch {ref_dtype}{extra}")
    if values:
        compare_arrays(ours.detach().numpy(), ref.detach().cpu().numpy(),
                       _tol(ref_dtype, tol_overrides), what)


def compare_outputs(ours: Any, ref: Any, tol_overrides: dict, values: bool,
                    what: str = "output") -> None:
    """Compare a whole result: tensors, tuples/lists of them (same length), Python numbers."""
    if isinstance(ref, torch.Tensor):
        compare_tensor(ours, ref, tol_overrides, what, values)
    elif isinstance(ref, (tuple, list)) and not isinstance(ref, torch.Size):
        if not isinstance(ours, (tuple, list)):
            raise Problem(SHAPE, f"{what}: ours is a {type(ours).__name__}, torch gives a "
                                 f"{type(ref).__name__} of {len(ref)}")
        if len(ours) != len(ref):
            raise Problem(SHAPE, f"{what}: {len(ours)} items, torch {len(ref)}")
        for i, (o, r) in enumerate(zip(ours, ref)):
            compare_outputs(o, r, tol_overrides, values, f"{what}[{i}]")
    elif isinstance(ref, (bool, numbers.Number)):
        if isinstance(ours, tg.Tensor) or not isinstance(ours, (bool, numbers.Number)):
            raise Problem(SHAPE, f"{what}: ours is a {type(ours).__name__}, torch gives a "
                                 f"Python {type(ref).__name__}")
        if type(ours) is not type(ref):
            raise Problem(DTYPE, f"{what}: ours is a Python {type(ours).__name__} ({ours!r}), "
                                 f"torch a {type(ref).__name__} ({ref!r})")
        if values:
            kind = "float64" if isinstance(ref, float) else "int64"
            compare_arrays(np.asarray(ours), np.asarray(ref), _tol(kind, tol_overrides), what)
    elif ours != ref:
        raise Problem(VALUE, f"{what}: ours {ours!r}, torch {ref!r}")


def _leaves(out: Any) -> list:
    if isinstance(out, (tuple, list)) and not isinstance(out, torch.Size):
        return [leaf for o in out for leaf in _leaves(o)]
    return [out]


def compare_grads(ours_out: Any, ref_out: Any, pairs: list, tol_overrides: dict,
                  seed: int) -> None:
    """Gradients of every floating input that requires grad (``pairs``: torch tensor, our
    tensor, a name for messages), for a fixed random upstream gradient on every torch
    output that carries one: ``torch.autograd.grad`` against ``tg.grad`` (an input torch
    reports unused gets zeros on both sides, as tg.grad gives them)."""
    ref_leaves, our_leaves = _leaves(ref_out), _leaves(ours_out)
    picked = [i for i, r in enumerate(ref_leaves)
              if isinstance(r, torch.Tensor) and r.requires_grad and r.is_floating_point()]
    if not picked or not pairs:
        return
    gen = torch.Generator().manual_seed(seed)
    ups = [torch.randn(ref_leaves[i].shape, generator=gen, dtype=torch.float64)
           .to(ref_leaves[i].dtype) for i in picked]
    t_inputs = [t for t, _, _ in pairs]
    try:
        t_grads = torch.autograd.grad([ref_leaves[i] for i in picked], t_inputs, ups,
                                      allow_unused=True)
    except RuntimeError as exc:
        raise Problem(NOT_APPLICABLE, f"outputs match; torch's own backward raises "
                                      f"({str(exc)[:100]}), so gradients are not compared")
    outs = []
    for i in picked:
        o = our_leaves[i]
        if not isinstance(o, tg.Tensor) or not o.requires_grad:
            raise Problem(GRAD, f"output {i} carries no gradient here (torch's does)")
        outs.append(o)
    o_ups = [tg.tensor(u.numpy(), dtype=o.dtype) for u, o in zip(ups, outs)]
    try:
        o_grads = tg.grad(outs, [o for _, o, _ in pairs], o_ups, allow_unused=True)
    except Exception as exc:  # noqa: BLE001 - classified, not swallowed
        raise _ExceptionInBackward(exc) from exc
    for (t, _, name), tgd, ogd in zip(pairs, t_grads, o_grads):
        ref = tgd if tgd is not None else torch.zeros_like(t)
        compare_tensor(ogd, ref, tol_overrides, f"grad of {name}")


class _ExceptionInBackward(Exception):
    """Carries an exception raised by our backward pass out of the comparison, to be
    classified like one raised by the forward call."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _grad_problem(p: Problem) -> Problem:
    """A problem found in the gradients is a gradient mismatch, whatever its kind."""
    return p if p.category == NOT_APPLICABLE else Problem(GRAD, str(p))


# ---------------------------------------------------------------- classifying exceptions
def _relative(path: str) -> str:
    """A frame's file, short: ``tinygrad_edu/tensor.py``, ``numpy/_core/...``, ``tests/...``."""
    if not Path(path).is_absolute():          # a compiled module's source: numpy/random/...
        return path
    full = str(Path(path).resolve())
    if full.startswith(PACKAGE_DIR):
        return "tinygrad_edu" + full[len(PACKAGE_DIR):]
    if "/site-packages/" in full:
        return full.split("/site-packages/", 1)[1]
    if full.startswith(str(Path(THIS_FILE).parent)):
        return "tests" + full[len(str(Path(THIS_FILE).parent)):]
    return path


def classify_exception(exc: BaseException) -> tuple[str, str, str]:
    """(category, message, where) for an exception raised by our counterpart.

    * our clear refusal: a TypeError or NotImplementedError raised by a ``raise``
      statement in tinygrad_edu, or a TypeError from the call's signature itself (an
      unexpected keyword, too many arguments), which is raised at the call site;
    * our error: any other exception raised by a ``raise`` statement in tinygrad_edu;
    * deep crash: everything else (raised inside NumPy, or by Python on a line of ours
      that is not a ``raise``: an AttributeError, an IndexError...).

    ``where`` is the innermost frame, plus the innermost tinygrad_edu frame if different.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    if len(message) > 300:
        message = message[:297] + "..."
    inner = frames[-1]
    ours = [f for f in frames if str(Path(f.filename).resolve()).startswith(PACKAGE_DIR)]
    where = f"{_relative(inner.filename)}:{inner.lineno}"
    if ours and ours[-1] is not inner:
        where += f" via {_relative(ours[-1].filename)}:{ours[-1].lineno}"
    at_call_site = str(Path(inner.filename).resolve()) == THIS_FILE
    deliberate = bool(ours) and ours[-1] is inner and (inner.line or "").lstrip().startswith(
        "raise")
    if isinstance(exc, TypeError) and at_call_site:
        return REFUSAL, message, "the call's signature"
    if deliberate and isinstance(exc, (TypeError, NotImplementedError)):
        return REFUSAL, message, where
    if deliberate:
        return OUR_ERROR, message, where
    return CRASH, message, where


def _call_quietly(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call with warnings and NumPy's floating-point warnings silenced: a sample that
    divides by zero on purpose is compared, not printed (on either side)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _settle_xfail(outcome: Outcome, xfail: ExpectedFailure | None,
                  exc: BaseException | None) -> Outcome:
    """Turn an outcome into XFAIL, XPASS or BAD_XFAIL when an expected failure applies."""
    if xfail is None:
        return outcome
    if exc is None:
        outcome.category = XPASS if outcome.category == PASS else BAD_XFAIL
        outcome.detail = (f"expected to be refused ({xfail.reason}) but "
                          + ("it passed: remove the entry" if outcome.category == XPASS
                             else f"it gave a wrong answer: {outcome.detail}"))
        return outcome
    clear = (outcome.category in (REFUSAL, OUR_ERROR)
             and isinstance(exc, (TypeError, NotImplementedError, ValueError, RuntimeError))
             and xfail.match in str(exc))
    if clear:
        outcome.category = XFAIL
        outcome.detail = xfail.reason
    else:
        outcome.detail = (f"listed as an expected failure ({xfail.reason}, message must "
                          f"contain {xfail.match!r}) but got {outcome.category}: "
                          f"{outcome.detail}")
        outcome.category = BAD_XFAIL
    return outcome


# ---------------------------------------------------------------- running op samples
_OP_DB_INDEX = {(o.name, o.variant_test_name): o for o in op_db}
_MODULE_DB_INDEX = {m.module_cls.__name__: m for m in module_db}


def op_db_index() -> dict:
    """op_db by (name, variant_test_name)."""
    return dict(_OP_DB_INDEX)


def module_db_index() -> dict:
    """module_db by class name."""
    return dict(_MODULE_DB_INDEX)


def op_dtypes(opinfo: Any) -> list:
    """float32 and float64 where the op supports them; int64 for an integer-only op."""
    supported = opinfo.supported_dtypes("cpu")
    chosen = [d for d in RUN_DTYPES if d in supported]
    return chosen or ([torch.int64] if torch.int64 in supported else [])


def op_cases() -> list[tuple[Row, Any]]:
    """(row, torch dtype) for every row of the mapping table; a row whose op_db entry
    is absent gets dtype None (and then fails, naming the entry)."""
    index = op_db_index()
    cases = []
    for row in OP_ROWS:
        opinfo = index.get((row.name, row.variant))
        dtypes = op_dtypes(opinfo) if opinfo is not None else [None]
        cases += [(row, d) for d in dtypes]
    return cases


def op_samples(opinfo: Any, dtype: Any, limit: int | None,
               reference: bool = False) -> Iterator[Any]:
    """The op's sample inputs (seeded, so every run sees the same ones), the first
    ``limit`` of them (all when None). Gradients are asked for when the op supports them
    and the dtype is floating. ``reference=True`` takes op_db's reference inputs instead:
    the sample inputs followed by more, among them extremal values (NaN, ±inf, -0.,
    huge and tiny numbers) for elementwise ops."""
    torch.manual_seed(0)
    requires_grad = bool(opinfo.supports_autograd) and dtype.is_floating_point
    make = opinfo.reference_inputs if reference else opinfo.sample_inputs
    return itertools.islice(make("cpu", dtype, requires_grad=requires_grad), limit)


def run_op_sample(row: Row, opinfo: Any, sample: Any, dtype: Any, index: int) -> Outcome:
    """Run one op_db sample through torch and through our counterpart and compare.

    Both sides get their own copies of the sample's tensors (:class:`Mirror`), so an op
    that changes an input in place (batch norm's running statistics) starts from the same
    values on both sides; afterwards every input is compared with torch's copy (in-place
    changes), then the outputs, then the gradients.
    """
    outcome = Outcome(row.id, dtype_name(dtype), index, describe_sample(sample), PASS,
                      counterpart=row.counterpart)
    kwargs = {**sample.kwargs, **row.extra_kwargs}
    reason = not_applicable_reason(sample.input, sample.args, kwargs)
    if reason:
        outcome.category, outcome.detail = NOT_APPLICABLE, reason
        return outcome
    if row.kind == "method" and row.call is None and not isinstance(sample.input, torch.Tensor):
        outcome.category = NOT_APPLICABLE
        outcome.detail = (f"the input is a {type(sample.input).__name__}, not a tensor: there "
                          f"is no {row.counterpart} to call (torch's function form)")
        return outcome
    xfail = next((x for x in EXPECTED_FAILURES if x.applies(row.id, sample)), None)
    if not row.exists() and row.call is None:
        outcome.category = MISSING
        outcome.detail = f"{row.counterpart} does not exist"
        return outcome
    mirror = Mirror()
    theirs = mirror.torch((sample.input, sample.args, kwargs))
    o_input, o_args, o_kwargs = mirror.tg((sample.input, sample.args, kwargs))
    try:
        ref = _call_quietly(opinfo.op, theirs[0], *theirs[1], **theirs[2])
    except Exception as exc:  # noqa: BLE001 - torch refusing its own sample: nothing to compare
        outcome.category, outcome.detail = NOT_APPLICABLE, f"torch raises {exc!r:.100}"
        return outcome
    try:
        ours = _call_quietly(row.run, o_input, o_args, o_kwargs)
    except Exception as exc:  # noqa: BLE001 - every exception is classified
        outcome.category, outcome.detail, outcome.where = classify_exception(exc)
        return _settle_xfail(outcome, xfail, exc)
    check_values = row.values(sample) if row.values is not None else True
    try:
        for t, o in mirror.pairs.values():      # inputs the op changed in place
            if not t.requires_grad:
                compare_tensor(o, t, row.tol, f"input {tuple(t.shape)} after the call")
        compare_outputs(ours, ref, row.tol, check_values)
        if check_values:
            try:
                grad_tol = row.tol if row.grad_tol is None else row.grad_tol
                _call_quietly(compare_grads, ours, ref, mirror.grad_pairs(), grad_tol,
                              seed=1000 + index)
            except Problem as p:
                raise _grad_problem(p) from p
    except Problem as p:
        outcome.category, outcome.detail = p.category, str(p)
    except _ExceptionInBackward as e:
        category, message, where = classify_exception(e.exc)
        outcome.category, outcome.detail, outcome.where = category, "backward: " + message, where
    return _settle_xfail(outcome, xfail, None) if outcome.category != NOT_APPLICABLE else outcome


def run_op(row: Row, dtype: Any, limit: int | None, reference: bool = False) -> list[Outcome]:
    """Every (capped) sample of one row in one dtype (see :func:`op_samples`)."""
    opinfo = _OP_DB_INDEX.get((row.name, row.variant))
    if opinfo is None or dtype is None:
        return [Outcome(row.id, "-", 0, "-", MISSING,
                        f"op_db has no entry {row.name!r} variant {row.variant!r}")]
    outcomes = []
    samples = op_samples(opinfo, dtype, limit, reference)
    while True:
        try:
            sample = next(samples)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - torch's own generator failing
            outcomes.append(Outcome(row.id, dtype_name(dtype), len(outcomes), "-",
                                    NOT_APPLICABLE, f"torch's sample generator raises after "
                                    f"{len(outcomes)} samples: {exc!r:.120}"))
            break
        outcomes.append(run_op_sample(row, opinfo, sample, dtype, len(outcomes)))
    return outcomes


# ---------------------------------------------------------------- running module samples
def module_cases() -> list[tuple[ModuleRow, Any, bool]]:
    """(row, dtype, training) for every module row: float32 and float64 where supported;
    training mode, and eval mode too where module_db says the two differ."""
    index = module_db_index()
    cases = []
    for row in MODULE_ROWS:
        info = index.get(row.name)
        if info is None:
            cases.append((row, None, True))
            continue
        modes = (True, False) if info.train_and_eval_differ else (True,)
        cases += [(row, d, m) for d in RUN_DTYPES if d in info.dtypes for m in modes]
    return cases


def _describe_module_input(minput: Any) -> str:
    c, f = minput.constructor_input, minput.forward_input
    ctor = ", ".join([describe(a) for a in c.args] + [f"{k}={describe(v)}"
                                                      for k, v in c.kwargs.items()])
    fwd = ", ".join([describe(a) for a in f.args] + [f"{k}={describe(v)}"
                                                     for k, v in f.kwargs.items()])
    return f"({ctor})({fwd})" + (f" '{minput.desc}'" if minput.desc else "")


def run_module_input(row: ModuleRow, info: Any, minput: Any, dtype: Any, training: bool,
                     index: int) -> Outcome:
    """One module_db input: build torch's module and ours with the same constructor
    arguments, copy torch's state_dict into ours, run forward on the same inputs, and
    compare outputs, the buffers after forward (running statistics) and the gradients of
    the inputs and of every parameter."""
    mode = "train" if training else "eval"
    outcome = Outcome(row.id, f"{dtype_name(dtype)} {mode}", index,
                      _describe_module_input(minput), PASS, counterpart=f"nn.{row.name}")
    c, f = minput.constructor_input, minput.forward_input
    reason = not_applicable_reason(c.args, c.kwargs, f.args, f.kwargs)
    if reason:
        outcome.category, outcome.detail = NOT_APPLICABLE, reason
        return outcome
    xfail = next((x for x in EXPECTED_FAILURES if x.applies(row.id, minput)), None)
    if not row.exists():
        outcome.category, outcome.detail = MISSING, f"nn.{row.name} does not exist"
        return outcome
    mirror = Mirror()
    t_cargs, t_ckwargs, t_fargs, t_fkwargs = mirror.torch((c.args, c.kwargs, f.args, f.kwargs))
    o_cargs, o_ckwargs, o_fargs, o_fkwargs = mirror.tg((c.args, c.kwargs, f.args, f.kwargs))
    try:
        torch.manual_seed(0)
        t_module = info.module_cls(*t_cargs, **t_ckwargs).to(dtype)
        # the state before forward: training mode moves batch norm's running statistics
        state = {k: v.detach().clone() for k, v in t_module.state_dict().items()}
        t_module.train(training)
        ref = _call_quietly(t_module, *t_fargs, **t_fkwargs)
    except Exception as exc:  # noqa: BLE001
        outcome.category, outcome.detail = NOT_APPLICABLE, f"torch raises {exc!r:.100}"
        return outcome

    def build_and_run() -> tuple[Any, Any]:
        module = getattr(nn, row.name)(*o_cargs, **o_ckwargs).to(TG_DTYPES[dtype])
        module.load_state_dict(state)
        module.train(training)
        return module, module(*o_fargs, **o_fkwargs)

    try:
        ours_module, ours = _call_quietly(build_and_run)
    except Exception as exc:  # noqa: BLE001
        outcome.category, outcome.detail, outcome.where = classify_exception(exc)
        return _settle_xfail(outcome, xfail, exc)
    try:
        compare_outputs(ours, ref, row.tol, True)
        ours_buffers = dict(ours_module.named_buffers())
        for name, buf in t_module.named_buffers():
            if name in ours_buffers and buf.dtype in TG_DTYPES:
                compare_tensor(ours_buffers[name], buf, row.tol, f"buffer {name} after forward")
        pairs = mirror.grad_pairs()
        ours_params = dict(ours_module.named_parameters())
        for name, p in t_module.named_parameters():
            if name not in ours_params:
                raise Problem(SHAPE, f"our module has no parameter {name!r}")
            pairs.append((p, ours_params[name], f"parameter {name} {tuple(p.shape)}"))
        try:
            _call_quietly(compare_grads, ours, ref, pairs, row.tol, seed=2000 + index)
        except Problem as p:
            raise _grad_problem(p) from p
    except Problem as p:
        outcome.category, outcome.detail = p.category, str(p)
    except _ExceptionInBackward as e:
        category, message, where = classify_exception(e.exc)
        outcome.category, outcome.detail, outcome.where = category, "backward: " + message, where
    return _settle_xfail(outcome, xfail, None) if outcome.category != NOT_APPLICABLE else outcome


def run_module(row: ModuleRow, dtype: Any, training: bool, limit: int | None) -> list[Outcome]:
    """Every (capped) module_db input of one module row in one dtype and mode."""
    info = _MODULE_DB_INDEX.get(row.name)
    if info is None or dtype is None:
        return [Outcome(row.id, "-", 0, "-", MISSING, f"module_db has no entry {row.name!r}")]
    torch.manual_seed(0)
    inputs = info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=True,
                                     training=training)
    return [run_module_input(row, info, m, dtype, training, i)
            for i, m in enumerate(itertools.islice(inputs, limit))]


# ---------------------------------------------------------------- counting
def totals(outcomes: list[Outcome]) -> Counter:
    """How many samples ended in each category."""
    return Counter(o.category for o in outcomes)


def matched_entries() -> tuple[int, int, int, int]:
    """(op_db entries mapped, of which our counterpart exists, module_db entries mapped,
    of which we have the layer)."""
    ops = {(r.name, r.variant): (r.exists() or r.call is not None) for r in OP_ROWS}
    present = {k: v for k, v in ops.items() if k in op_db_index()}
    mods = [r for r in MODULE_ROWS if r.name in module_db_index()]
    return (len(present), sum(present.values()), len(mods), sum(r.exists() for r in mods))


def summary_lines(counts: Counter, capped: bool) -> list[str]:
    """The counts in README-ready lines."""
    ops, ops_present, mods, mods_present = matched_entries()
    run = sum(v for k, v in counts.items() if k != NOT_APPLICABLE)
    failed = sum(v for k, v in counts.items() if k not in OK_CATEGORIES)
    lines = [
        f"op_db entries matched: {ops} ({ops_present} with a counterpart in our API); "
        f"module_db entries matched: {mods} ({mods_present} present)",
        f"samples run: {run}{' (capped per op and dtype)' if capped else ''}; passed: "
        f"{counts[PASS]}; expected failures: {counts[XFAIL]}; failed: {failed}; "
        f"not applicable: {counts[NOT_APPLICABLE]}",
    ]
    for cat in FAILURE_ORDER:
        if counts[cat]:
            lines.append(f"  {cat}: {counts[cat]}")
    return lines


# ---------------------------------------------------------------- what we lack
#: op_db names outside this library's scope, by prefix or name, with the reason
OUT_OF_SCOPE_PREFIXES = {
    "linalg.": "linear algebra", "fft.": "FFT", "special.": "special functions",
    "signal.": "window functions", "masked.": "masked tensors", "sparse.": "sparse tensors",
    "_": "private aten ops", "torch.": "private aten ops", "jiterator": "CUDA jiterator",
}
OUT_OF_SCOPE_NAMES = {
    "complex numbers": "angle complex conj conj_physical resolve_conj resolve_neg view_as_real "
                       "view_as_complex real imag polar cfloat cdouble chalf H mH isreal sgn "
                       "nn.functional.silu",   # reached only by silu.complex: silu is mapped
    "integer/bit ops": "bitwise_not bitwise_and bitwise_or bitwise_xor bitwise_left_shift "
                       "bitwise_right_shift __rand__ __ror__ __rxor__ gcd lcm byte char short "
                       "bfloat16",
    "special math": "igamma igammac polygamma mvlgamma digamma lgamma erf erfc erfinv i0 sinc "
                    "frexp ldexp nextafter logit xlogy heaviside",
    "random distributions": "cauchy exponential geometric log_normal normal uniform bernoulli "
                            "multinomial",
    "linear-algebra decompositions": "cholesky cholesky_inverse cholesky_solve lu lu_solve "
                                     "lu_unpack qr svd svd_lowrank pca_lowrank geqrf ormqr "
                                     "triangular_solve pinverse matrix_exp logdet",
    "strides and storage": "as_strided as_strided_copy as_strided_scatter alias_copy "
                           "new_empty_strided empty_strided empty_permuted resize_ resize_as_",
    "3-D, attention and other layers beyond the course": "nn.functional.conv3d "
        "nn.functional.conv_transpose3d nn.functional.avg_pool3d nn.functional.max_pool3d "
        "nn.functional.adaptive_avg_pool3d nn.functional.adaptive_max_pool3d "
        "nn.functional.max_unpool3d nn.functional.fractional_max_pool3d "
        "nn.functional.interpolate nn.functional.scaled_dot_product_attention "
        "nn.functional.multi_head_attention_forward nn.functional.grid_sample grid_sampler_2d "
        "grid_sampler_3d nn.functional.ctc_loss nn.functional.embedding_bag stft istft "
        "histogram histogramdd histc",
}


def out_of_scope_reason(name: str) -> str | None:
    for prefix, why in OUT_OF_SCOPE_PREFIXES.items():
        if name.startswith(prefix):
            return why
    for why, names in OUT_OF_SCOPE_NAMES.items():
        if name in names.split():
            return why
    return None


def unmapped_plausible() -> list[str]:
    """op_db entry names (with variant) that no row maps and that are not out of scope:
    ops a PyTorch learner might reach for that we lack (or have under another name)."""
    mapped = {(r.name, r.variant) for r in OP_ROWS}
    out = []
    for o in op_db:
        if (o.name, o.variant_test_name) in mapped or out_of_scope_reason(o.name):
            continue
        out.append(o.name + (f".{o.variant_test_name}" if o.variant_test_name else ""))
    return sorted(set(out))


def unmapped_modules() -> list[str]:
    """module_db classes we have no row for (and so no layer), 3-D and lazy ones aside."""
    mapped = {r.name for r in MODULE_ROWS}
    skip = ("3d", "Lazy", "Transformer", "MultiheadAttention", "Fractional", "CTCLoss",
            "LinearCrossEntropyLoss")
    return sorted(n for n in module_db_index() if n not in mapped
                  and not any(s in n for s in skip))

