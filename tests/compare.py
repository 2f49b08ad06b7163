"""The suite's one comparison helper: ``assert_close(actual, expected, ...)``.

Unlike ``np.testing.assert_allclose`` (``equal_nan=True`` by default, and it broadcasts),
it lets no wrong answer through:

* the shapes must be equal (a scalar never "matches" an array by broadcasting);
* a NaN or an infinity where the reference is finite is a mismatch, and so is a finite value
  where the reference is NaN or infinite; infinities agree only with the same infinity;
* a NaN agrees with a NaN at the same position only when the caller says the reference is
  meant to hold NaN there (``expect_nan=True``): a reference that turned NaN by accident
  fails loudly instead of matching a NaN result;
* integer and bool arrays must be exactly equal (tolerances apply to floats only);
* ``dtype=...`` also checks the actual dtype.

``actual`` may be a ``tinygrad_edu`` tensor, a ``torch`` tensor or anything NumPy reads.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any) -> np.ndarray:
    """A host NumPy array of a tg tensor, a torch tensor, a NumPy array or a Python value."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu") and not isinstance(x, np.ndarray):
        x = x.cpu()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return np.asarray(x)


def close_mask(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
               expect_nan: bool = False) -> np.ndarray:
    """True where the two agree (same shape assumed): both finite and
    |a - e| <= atol + rtol·|e|, or the same infinity, or (``expect_nan``) both NaN."""
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    both_finite = np.isfinite(a) & np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        close = both_finite & (np.abs(np.where(both_finite, a - e, 0.0))
                               <= atol + rtol * np.abs(np.where(both_finite, e, 0.0)))
        same_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    ok = close | same_inf
    if expect_nan:
        ok |= np.isnan(a) & np.isnan(e)
    return ok


def assert_close(actual: Any, expected: Any, rtol: float = 1e-7, atol: float = 0.0, *,
                 dtype: Any = None, expect_nan: bool = False, msg: str = "") -> None:
    """Fail unless ``actual`` equals ``expected`` within tolerances (see the module doc)."""
    a, e = to_numpy(actual), to_numpy(expected)
    where = f"{msg}: " if msg else ""
    if a.shape != e.shape:
        raise AssertionError(f"{where}shape {a.shape} != expected {e.shape}")
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise AssertionError(f"{where}dtype {a.dtype} != expected {np.dtype(dtype)}")
    if e.dtype.kind not in "fc" or a.dtype.kind not in "fc":
        if e.dtype.kind in "fc" or a.dtype.kind in "fc":
            raise AssertionError(f"{where}dtype kinds differ: {a.dtype} vs expected {e.dtype}")
        bad = a != e
        if bad.any():
            first = tuple(int(i[0]) for i in np.nonzero(bad)) if a.ndim else ()
            raise AssertionError(f"{where}{int(bad.sum())} of {a.size} elements differ; first "
                                 f"at {list(first)}: {a[first]!r} != expected {e[first]!r}")
        return
    if not expect_nan and np.isnan(e).any():
        raise AssertionError(f"{where}the reference holds NaN (pass expect_nan=True if that "
                             "is meant)")
    ok = close_mask(a, e, rtol, atol, expect_nan)
    if not ok.all():
        bad = ~ok
        first = tuple(int(i[0]) for i in np.nonzero(bad)) if a.ndim else ()
        with np.errstate(invalid="ignore", over="ignore"):
            worst = np.nanmax(np.where(bad & np.isfinite(a) & np.isfinite(e),
                                       np.abs(a.astype(np.float64) - e), -np.inf))
        raise AssertionError(
            f"{where}{int(bad.sum())} of {a.size} elements differ (rtol={rtol:g}, "
            f"atol={atol:g}); first at {list(first)}: {a[first]!r} != expected {e[first]!r}"
            + (f"; largest finite difference {worst:.3g}" if np.isfinite(worst) else ""))
