"""Winograd F(2x2, 3x3): a 3x3, stride-1 convolution with 2.25 times fewer multiplications.

The reference (``functional.convolution``) lays every 3x3 patch out as a column
(im2col) and multiplies by the filters: 9·C multiply-adds per output and channel.
Lavin & Gray (2016) cut the output into 2x2 tiles; each reads a 4x4 tile d of the
(padded) input, and the 2x2 result of one filter g on it is::

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A              16 products instead of 36

with the constant matrices ``BT``, ``G`` and ``AT`` below (entries 0, ±1, ±½). Summed
over the C input channels the ⊙ becomes, for each of the 16 positions (a, b) of the
4x4 tile, a matrix product over channels::

    M[a, b] = V[a, b] @ U[a, b]      (tiles, C) @ (C, O)      V = Bᵀ d B,  U = G g Gᵀ

so a convolution is: transform the input tiles (adds and subtracts of slices), 16
GEMMs in one batched ``matmul``, transform the products back (adds again).

Backward. The input gradient of a correlation is the "full" correlation of the
output gradient (padded by 2) with the filters flipped and their channels swapped,
itself a 3x3 stride-1 correlation, so the same three steps compute it. The filter
gradient is the adjoint of the forward: δU[a, b] = Σ over tiles V[a, b]ᵀ (A δY Aᵀ)[a, b]
(one more batched GEMM, with V kept from the forward), then δw = Gᵀ δU G. With
``create_graph=True`` the backward is recorded instead, as im2col correlations.

Layout. NumPy pays per call and per inner loop, and a slice of every other row or
column of an (N, C, H, W) array has short ones. The transforms therefore work on
(H, W, N, C) copies (one transposition in, one out), where every slice is strided
only over H and W and runs over N·C contiguous numbers; the column steps read rows
split by column parity, so their slices are contiguous. Each pass runs a band of tile
rows at a time (transform, GEMMs, transform) so that a band stays in the cache. An odd
output gets one extra row or column of zero tiles, cropped at the end.

Threads. With BLAS given T > 1 threads, the lane splits the bands (and the
transpositions) between T threads of its own and runs each GEMM on one BLAS thread
(see ``parallel``); with one BLAS thread everything runs in the calling thread.

``tests/test_winograd.py`` and ``tests/test_fast_lane.py`` prove it equal to the
im2col reference (values, both gradients, second derivatives).
"""
from __future__ import annotations

import ctypes
import functools
import os
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.engine.ops import Copy, GetItem, MatMul, Pad, Permute, Primitive, Reshape, \
    Window
from tinygrad_edu.engine.tensor import Tensor

#: input tile transform Bᵀ (4x4): V = Bᵀ d B
BT = ((1, 0, -1, 0),
      (0, 1, 1, 0),
      (0, -1, 1, 0),
      (0, 1, 0, -1))
#: filter transform G (4x3): U = G g Gᵀ
G = ((1, 0, 0),
     (0.5, 0.5, 0.5),
     (0.5, -0.5, 0.5),
     (0, 0, 1))
#: output transform Aᵀ (2x4): Y = Aᵀ M A
AT = ((1, 1, 1, 0),
      (0, 1, -1, -1))

BLOCK = 64              # planes per block of a transposition into (H, W, N, C)
BLOCK_ALIGNED = 8       # the same when planes are a multiple of 1 KiB (see to_hwnc)
PITCH = 16              # numbers of padding after each (h, w) row of an (H, W, N, C) array
BAND_BYTES = 2 * 2**20  # transformed tiles per band (with the GEMM's products: in the cache)


@functools.lru_cache(maxsize=None)
def recipe(coeffs: tuple) -> tuple:
    """How to sum terms with these coefficients in place: ((ufunc name, operands), ...), an
    operand being ``("t", i)`` (term i), ``("c", value)`` (a number) or ``"o"`` (the output).
    Zeros are skipped, ±1 become adds and subtracts, and one multiply scales the result when
    the nonzero coefficients share a magnitude other than 1 (a product per term otherwise)."""
    nz = [(c, ("t", i)) for i, c in enumerate(coeffs) if c != 0]
    if not nz:
        return (("assign", ("o", ("c", 0))),)
    scale = abs(nz[0][0])
    if any(abs(c) != scale for c, _ in nz):
        return (("multiply", (nz[0][1], ("c", nz[0][0]), "o")),) + tuple(
            ("axpy", (t, ("c", c), "o")) for c, t in nz[1:])
    (c0, t0), rest = nz[0], nz[1:]
    if not rest:
        ops = [("assign", ("o", t0)) if c0 > 0 else ("negative", (t0, "o"))]
    elif c0 > 0:
        ops = [("add" if rest[0][0] > 0 else "subtract", (t0, rest[0][1], "o"))]
    elif rest[0][0] > 0:
        ops = [("subtract", (rest[0][1], t0, "o"))]
    else:
        ops = [("add", (t0, rest[0][1], "o")), ("negative", ("o", "o"))]
    ops += [("add" if c > 0 else "subtract", ("o", t, "o")) for c, t in rest[1:]]
    if scale != 1:
        ops.append(("multiply", ("o", ("c", scale), "o")))
    return tuple(ops)


def assign(out: Any, value: Any) -> None:
    out[...] = value


def axpy(xp: Any) -> Any:
    return lambda t, c, out: xp.add(out, xp.multiply(t, c), out)


def steps(xp: Any, coeffs: Any, terms: list, out: Any) -> list:
    """out = Σ coeffs[i]·terms[i] as a list of ufunc calls ``(f, args)`` (run them with
    :func:`run`), following :func:`recipe`. Built once, a list runs for every band of a pass
    without Python's work of building it again."""
    def operand(a: Any) -> Any:
        return out if a == "o" else terms[a[1]] if a[0] == "t" else a[1]
    fns = {"assign": assign, "axpy": axpy(xp)}
    return [(fns[name] if name in fns else getattr(xp, name), tuple(operand(a) for a in args))
            for name, args in recipe(tuple(coeffs))]


def run(ops: list) -> None:
    for f, args in ops:
        f(*args)


def combine(xp: Any, coeffs: Any, terms: list, out: Any) -> Any:
    """out = Σ coeffs[i]·terms[i] (see :func:`steps`)."""
    run(steps(xp, coeffs, terms, out))
    return out


# ---------------------------------------------------------------- layout
def hwnc(xp: Any, h: int, w: int, n: int, c: int, dtype: Any) -> Any:
    """An empty (H, W, N, C) array whose (h, w) rows lie N·C + PITCH numbers apart: with
    N·C a power of two, rows exactly 2^k bytes apart would fall on the same cache sets
    and make the transposition into NCHW several times slower."""
    return xp.empty((h, w, n * c + PITCH), dtype=dtype)[:, :, :n * c].reshape(h, w, n, c)


def to_hwnc(src: Any, dst: Any) -> None:
    """dst (H, W, N, C) = src (N, C, H, W) transposed, a block of N·C planes at a time (the
    copy reads each block's planes side by side: a few planes when planes are a multiple
    of 1 KiB apart, whose same offsets share cache sets, more otherwise)."""
    n, c, h, w = src.shape
    if backend.device_of(src) != "cpu":
        dst[...] = src.transpose(2, 3, 0, 1)
        return
    s, d = src.reshape(n * c, h, w), dst.view()
    d.shape = (h, w, n * c)                               # a view of dst, never a copy
    block = BLOCK if (h * w * src.dtype.itemsize) % 1024 else BLOCK_ALIGNED
    for i in range(0, n * c, block):
        d[:, :, i:i + block] = s[i:i + block].transpose(1, 2, 0)


def from_hwnc(src: Any, dst: Any) -> None:
    """dst (N, C, H, W) = src (H, W, N, C) transposed (the inverse of :func:`to_hwnc`)."""
    n, c, h, w = dst.shape
    dst.reshape(n * c, h, w)[...] = src.reshape(h, w, n * c).transpose(2, 0, 1)


# ---------------------------------------------------------------- the transforms
# Each pass (forward, input gradient, filter gradient) runs band by band: a few tile rows
# of input transform, GEMMs and output transform at a time, so that a band's arrays stay
# in the cache. The scratch arrays are the same every band, so the ufunc calls that only
# touch them are built once per pass (``steps``); those that read or write the pass's
# input or output are built per band from views made once per pass.
def by_parity(rows: Any) -> Any:
    """rows (K, 2·J, ...) as (K, 2, J, ...): even columns first, then odd ones (a view)."""
    k, w = rows.shape[:2]
    return rows.reshape((k, w // 2, 2) + rows.shape[2:]).swapaxes(1, 2)


class InputTransform:
    """v (4, 4, K, TW, N, C) = Bᵀ d B for the 4x4 tiles (stride 2) of K tile rows of d
    (H, W, N, C). Rows first: ``rows`` (4, K, 2, TW + 1, N, C) holds Bᵀ applied down the
    columns, its columns split by parity, so that column 2j + q of tile row i is
    ``rows[a, i, q % 2, j + q // 2]`` and the column step reads contiguous slices."""

    def __init__(self, d: Any, band: int, tw: int, keep: Any = None) -> None:
        xp = self.xp = backend.module_of(d)
        th = (d.shape[0] - 2) // 2
        self.taps = [by_parity(d[q:q + 2 * th:2]) for q in range(4)]     # (TH, 2, TW+1, N, C)
        self.rows = xp.empty((4, band, 2, tw + 1) + d.shape[2:], dtype=d.dtype)
        self.keep = keep                                  # (4, 4, TH, TW, N, C): V of every band
        self.v = xp.empty((4, 4, band, tw) + d.shape[2:], dtype=d.dtype) if keep is None \
            else None
        self.plans: dict = {}

    def plan(self, i: int, k: int) -> list:
        """The column step of a band of k tile rows, for each a (scratch to scratch, or into
        ``keep`` when the pass keeps V)."""
        key = k if self.keep is None else (i, k)
        if key not in self.plans:
            rows = self.rows[:, :k]
            v = self.v[:, :, :k] if self.keep is None else self.keep[:, :, i:i + k]
            tw = v.shape[3]
            self.plans[key] = [[op for b in range(4) for op in steps(
                self.xp, BT[b], [rows[a][:, q % 2, q // 2:q // 2 + tw] for q in range(4)],
                v[a, b])] for a in range(4)]
        return self.plans[key]

    def __call__(self, i: int, k: int) -> Any:
        """V of tile rows i .. i + k - 1 (each row slab's columns while it is in the cache)."""
        rows, plan = self.rows[:, :k], self.plan(i, k)
        for a in range(4):
            run(steps(self.xp, BT[a], [t[i:i + k] for t in self.taps], rows[a]))
            run(plan[a])
        return self.v[:, :, :k] if self.keep is None else self.keep[:, :, i:i + k]


class OutputTransform:
    """out rows 2i .. 2(i + k) - 1 = Aᵀ m A for the products m (4, 4, K, TW, N, O) of K tile
    rows. Columns first, into ``half`` (4, K, TW, 2, N, O), whose (TW, 2) is a row of
    2·TW outputs: the row step then writes whole output rows."""

    def __init__(self, out: Any, band: int, m: Any) -> None:
        xp = self.xp = backend.module_of(out)
        self.outs = [out[r::2] for r in range(2)]                      # (TH, 2·TW, N, O)
        tw = out.shape[1] // 2
        self.half = xp.empty((4, band, tw, 2) + out.shape[2:], dtype=out.dtype)
        self.m, self.plans = m, {}

    def plan(self, k: int) -> list:
        if k not in self.plans:
            half, tw = self.half[:, :k], self.half.shape[2]
            m = self.m[:, :k * tw * half.shape[4]].reshape((4, 4, k, tw) + half.shape[4:])
            self.plans[k] = [op for a in range(4) for c in range(2) for op in steps(
                self.xp, AT[c], [m[a, b] for b in range(4)], half[a][:, :, c])]
        return self.plans[k]

    def __call__(self, i: int, k: int) -> None:
        run(self.plan(k))
        half = self.half[:, :k]
        rows = half.reshape((4, k, 2 * half.shape[2]) + half.shape[4:])
        for r in range(2):
            run(steps(self.xp, AT[r], list(rows), self.outs[r][i:i + k]))


class OutputAdjoint:
    """mg (4, 4, K, TW, N, O) = A g Aᵀ for the 2x2 tiles of K tile rows of g (2·TH, 2·TW,
    N, O): the adjoint of the output transform, the filter gradient's side of the products.
    Rows first (split by column parity), then columns.

    Two rows of A pick a single parity (A = [1 0; 1 1; 1 -1; 0 -1]: rows 0 and 3), so the
    row step writes its two parities straight into those two slots of mg, and the column
    step fills the other two from them: 12 array ops a band instead of 20. Those slots
    (and the row step's rows of A with one entry) are kept without their sign; ``signs``
    (4, 4) holds what the product Vᵀ mg must be multiplied by (one small array)."""

    def __init__(self, g: Any, band: int) -> None:
        xp = self.xp = backend.module_of(g)
        a = [[AT[r][col] for r in range(2)] for col in range(4)]        # A = (Aᵀ)ᵀ, 4x2
        self.taps = [by_parity(g[r::2]) for r in range(2)]              # (TH, 2, TW, N, O)
        tw = g.shape[1] // 2
        self.mg = xp.empty((4, 4, band, tw) + g.shape[2:], dtype=g.dtype)
        self.plans: dict = {}
        picks = {}                                                      # parity -> slot, sign
        for b, row in enumerate(a):
            nz = [(c, v) for c, v in enumerate(row) if v != 0]
            if len(nz) == 1 and abs(nz[0][1]) == 1:
                picks.setdefault(nz[0][0], (b, nz[0][1]))
        self.slots = (picks[0][0], picks[1][0]) if len(picks) == 2 and \
            picks[0][0] < picks[1][0] else None
        if self.slots is None:                                          # another A: the
            self.rows = xp.empty((4, band, 2, tw) + g.shape[2:], dtype=g.dtype)   # plain way
            self.row_coeffs, self.col_coeffs, self.signs = a, a, [[1] * 4 for _ in range(4)]
            return
        # row step: a row of A with one ±1 is written unsigned (its sign goes to signs)
        rho = [next(v for v in row if v) if sum(v != 0 for v in row) == 1 and
               abs(next(v for v in row if v)) == 1 else 1 for row in a]
        self.row_coeffs = [[v * rho[i] for v in row] for i, row in enumerate(a)]
        self.col_coeffs = a
        self.signs = [[rho[i] * (picks[0][1] if b == picks[0][0] else picks[1][1]
                                 if b == picks[1][0] else 1) for b in range(4)]
                      for i in range(4)]

    def row_out(self, a: int, k: int) -> Any:
        """Where the row step of row a writes: (K, 2, TW, N, O)."""
        if self.slots is None:
            return self.rows[a, :k]
        s0, s1 = self.slots
        return self.xp.moveaxis(self.mg[a, s0:s1 + 1:s1 - s0, :k], 0, 1)

    def plan(self, k: int) -> list:
        if k not in self.plans:
            mg = self.mg[:, :, :k]
            self.plans[k] = [[op for b in range(4) if self.slots is None or b not in
                              self.slots for op in steps(
                self.xp, self.col_coeffs[b], [self.row_out(a, k)[:, c] for c in range(2)],
                mg[a, b])] for a in range(4)]
        return self.plans[k]

    def __call__(self, i: int, k: int) -> Any:
        plan = self.plan(k)
        for a in range(4):
            run(steps(self.xp, self.row_coeffs[a], [t[i:i + k] for t in self.taps],
                      self.row_out(a, k)))
            run(plan[a])
        return self.mg[:, :, :k]


def filter_transform(w: Any) -> Any:
    """U (4, 4, C, O) = G w Gᵀ for the filters w (O, C, 3, 3) (on a (3, 3, C, O) copy, so
    that every slice is a contiguous (C, O) matrix)."""
    xp = backend.module_of(w)
    o, c = w.shape[:2]
    taps = xp.ascontiguousarray(w.transpose(2, 3, 1, 0))           # (3, 3, C, O)
    half = xp.empty((4, 3, c, o), dtype=w.dtype)
    u = xp.empty((4, 4, c, o), dtype=w.dtype)
    for a in range(4):
        combine(xp, G[a], list(taps), half[a])
        for b in range(4):
            combine(xp, G[b], list(half[a]), u[a, b])
    return u


def filter_adjoint(du: Any) -> Any:
    """δw (O, C, 3, 3) = Gᵀ δU G from δU (4, 4, C, O): the filter transform's adjoint."""
    xp = backend.module_of(du)
    c, o = du.shape[2:]
    gt = [[G[a][k] for a in range(4)] for k in range(3)]          # Gᵀ, 3x4
    half = xp.empty((3, 4, c, o), dtype=du.dtype)
    dw = xp.empty((3, 3, c, o), dtype=du.dtype)
    for k in range(3):
        combine(xp, gt[k], list(du), half[k])
        for l in range(3):
            combine(xp, gt[l], list(half[k]), dw[k, l])
    return xp.ascontiguousarray(dw.transpose(3, 2, 0, 1))          # (O, C, 3, 3)


# ---------------------------------------------------------------- the passes
def band_rows(tw: int, n: int, c: int, itemsize: int) -> int:
    """Tile rows per band: one band's transformed tiles (16 per tile) fill about BAND_BYTES."""
    return max(1, BAND_BYTES // (16 * tw * n * c * itemsize))


def correlate(d: Any, u: Any, out: Any, band: int, bands: Any, keep: Any = None) -> Any:
    """out (2·TH, 2·TW, N, O) = the 3x3 correlation of d (2·TH + 2, 2·TW + 2, N, C) with the
    transformed filters u (4, 4, C, O), for the bands of tile rows [i, j) (at most ``band``
    rows) taken from the iterator ``bands``: input transform, the 16 GEMMs (tiles, C) @
    (C, O) in one batched matmul, output transform. With ``keep`` (4, 4, TH, TW, N, C),
    the transformed input V is written there."""
    xp = backend.module_of(d)
    tw, n, c, o = out.shape[1] // 2, d.shape[2], d.shape[3], u.shape[3]
    m = xp.empty((16, band * tw * n, o), dtype=d.dtype)
    vt, yt = InputTransform(d, band, tw, keep), OutputTransform(out, band, m)
    u = u.reshape(16, c, o)
    for i, j in bands:
        xp.matmul(vt(i, j - i).reshape(16, -1, c), u, out=m[:, :(j - i) * tw * n])
        yt(i, j - i)
    return out


def filter_gradient(v: Any, g: Any, band: int, bands: Any) -> Any:
    """δU (4, 4, C, O) = Σ over the tiles of Vᵀ (A g Aᵀ), for the bands of tile rows [i, j)
    taken from ``bands``: v (4, 4, TH, TW, N, C) the transformed input kept by the forward,
    g (2·TH, 2·TW, N, O) its output gradient."""
    xp = backend.module_of(v)
    c, o = v.shape[5], g.shape[3]
    gt = OutputAdjoint(g, band)
    du = xp.zeros((16, c, o), dtype=v.dtype)
    part = xp.empty((16, c, o), dtype=v.dtype)
    for i, j in bands:
        vi, mg = v[:, :, i:j].reshape(16, -1, c), gt(i, j - i)
        du += xp.matmul(vi.transpose(0, 2, 1), mg.reshape(16, -1, o), out=part)
    du = du.reshape(4, 4, c, o)
    for a, row in enumerate(gt.signs):
        for b, sign in enumerate(row):
            if sign != 1:
                du[a, b] *= sign
    return du


# ---------------------------------------------------------------- threads
# With OPENBLAS_NUM_THREADS=2, OpenBLAS splits each band's GEMMs between its threads, which
# then spin between one small GEMM and the next (on a busy machine several times slower
# than one thread). Instead the lane runs its GEMMs on one BLAS thread and, when BLAS was
# given T threads, splits its work between T threads of its own: NumPy lets go of the GIL
# inside its loops, so the transforms run in parallel too. On one BLAS thread, nothing of
# this happens.
_blas: list = []                # [(get_num_threads, set_num_threads_local, count) or None]
_pool: list = []                # [ThreadPoolExecutor, its size, the process it was made in]


def openblas() -> Any:
    """OpenBLAS's get_num_threads and set_num_threads_local (named with or without the
    prefix and suffix of NumPy's wheels), from the libraries loaded in this process, NumPy's
    first, and the thread count BLAS had when first asked; None where there is none (not
    Linux, another BLAS, an OpenBLAS before 0.3.27). The count is kept because the "local"
    setter is not local in every build (in NumPy's wheels a thread that sets 1 sets it for
    every thread), so the count to put back cannot be read from BLAS."""
    if not _blas:
        found = None
        try:
            with open("/proc/self/maps") as maps:
                paths = {line.split()[-1] for line in maps if "openblas" in line.lower()
                         and ".so" in line}
        except OSError:
            paths = set()
        for path in sorted(paths, key=lambda p: "numpy" not in p):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            get, set_local = (next((f for f in (getattr(lib, name, None) for name in names)
                                    if f is not None), None) for names in (
                ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                 "openblas_get_num_threads"),
                ("scipy_openblas_set_num_threads_local64_", "openblas_set_num_threads_local64_",
                 "openblas_set_num_threads_local")))
            if get is not None and set_local is not None:
                get.restype, set_local.restype = ctypes.c_int, ctypes.c_int
                set_local.argtypes = [ctypes.c_int]
                found = (get, set_local, get())
                break
        _blas.append(found)
    return _blas[0]


def lane_threads(arr: Any) -> int:
    """How many threads the lane may use: as many as BLAS was given (1 off the CPU)."""
    fns = openblas() if backend.device_of(arr) == "cpu" else None
    return max(1, min(fns[2], os.cpu_count() or 1)) if fns else 1


def set_blas_threads(count: int | None) -> None:
    """BLAS calls of this thread (of every thread, where the setter is global) on ``count``
    threads from now on; None: the count BLAS started with."""
    fns = openblas()
    if fns is not None:
        fns[1](fns[2] if count is None else count)


def on_one_blas_thread(fn: Any, *args: Any) -> Any:
    """fn(*args) with BLAS on one thread (what a thread of the lane's pool runs; it does
    nothing but the lane's work, so the count is never put back there)."""
    set_blas_threads(1)
    return fn(*args)


def chunks(total: int, step: int) -> list:
    """[lo, hi) ranges of ``step`` (the last shorter) covering range(total)."""
    return [(lo, min(lo + step, total)) for lo in range(0, total, step)]


def parallel(threads: int, fn: Any, total: int, step: int) -> list:
    """fn(ranges) in ``threads`` threads at once (this one, and the lane's thread pool, made
    on first need), each with one BLAS thread; ``ranges`` is one iterator over the
    :func:`chunks` of range(total), shared: each thread takes the next chunk when it is
    done with its last, so a thread the machine holds back holds nobody up. Returns the
    list of fn's results.

    BLAS gets its count back only when every thread is done: where the setter is global,
    putting it back while another thread still multiplies gives that thread's next GEMMs
    to OpenBLAS's own worker thread, which then spins between them and after them, and
    takes a core from the lane's threads."""
    ranges = iter(chunks(total, step))                # next() on it is atomic (the GIL)
    threads = max(1, min(threads, -(-total // step)))
    set_blas_threads(1)
    try:
        if threads == 1:
            return [fn(ranges)]
        # a new pool where there is none, too small, or made before a fork (a forked
        # child has none of its parent's threads)
        if not _pool or _pool[1] < threads - 1 or _pool[2] != os.getpid():
            old = _pool[:1] if _pool and _pool[2] == os.getpid() else []
            _pool[:] = [ThreadPoolExecutor(threads - 1, thread_name_prefix="winograd"),
                        threads - 1, os.getpid()]
            for pool in old:
                pool.shutdown(wait=False)
        futures = [_pool[0].submit(on_one_blas_thread, fn, ranges) for _ in range(threads - 1)]
        try:
            first = fn(ranges)
        finally:
            wait(futures)
        return [first] + [f.result() for f in futures]
    finally:
        set_blas_threads(None)


# ---------------------------------------------------------------- the primitive
class WinogradConv(Primitive):
    """y = the 3x3 stride-1 correlation of a padded input x (N, C, H, W) with w (O, C, 3, 3)
    -> (N, O, H - 2, W - 2), by Winograd F(2x2, 3x3).  Backward: δx the full correlation
    of δy with the flipped, channel-swapped filters (Winograd again); δw by the adjoint
    of the forward, from the input tiles V kept by the forward."""
    name = "conv3x3"
    save_inputs = True

    def forward(self, x: Any, w: Any) -> Any:
        xp = backend.module_of(x)
        n, c, h, wd = x.shape
        o = w.shape[0]
        oh, ow = h - 2, wd - 2
        th, tw = -(-oh // 2), -(-ow // 2)
        threads, images = lane_threads(x), max(1, n // 8)
        d = hwnc(xp, 2 * th + 2, 2 * tw + 2, n, c, x.dtype)     # x as (H, W, N, C)
        if d.shape[0] > h:                                # odd output: a row of zeros
            d[h:] = 0
        if d.shape[1] > wd:                               # and/or a column
            d[:h, wd:] = 0
        parallel(threads, lambda ranges: [to_hwnc(x[lo:hi], d[:h, :wd, lo:hi])
                                          for lo, hi in ranges], n, images)
        u = filter_transform(w)
        yt = hwnc(xp, 2 * th, 2 * tw, n, o, x.dtype)
        # V, the transformed input, is kept for the filter gradient (under grad mode)
        v = xp.empty((4, 4, th, tw, n, c), dtype=x.dtype) if graph.MODE.enabled else None
        band = band_rows(tw, n, max(c, o), x.dtype.itemsize)
        parallel(threads, lambda ranges: correlate(d, u, yt, band, ranges, v), th, band)
        y = xp.empty((n, o, oh, ow), dtype=x.dtype)
        parallel(threads, lambda ranges: [from_hwnc(yt[:oh, :ow, lo:hi], y[lo:hi])
                                          for lo, hi in ranges], n, images)
        self.v = v
        return y

    def backward(self, g: Any) -> tuple:
        if graph.MODE.enabled:                            # create_graph: recorded ops
            return self.graph_backward(g)
        w = self.saved[1].data
        px, pw = (p.requires_grad for p in self.parents)
        xp = backend.module_of(g)
        n, o, oh, ow = g.shape
        c = w.shape[1]
        th, tw = -(-oh // 2), -(-ow // 2)
        threads, images = lane_threads(g), max(1, n // 8)
        # g as (H, W, N, O), with 2 zero rows/columns around it (the full correlation's
        # padding) and zeros down to the tile grid
        gp = hwnc(xp, 2 * th + 4, 2 * tw + 4, n, o, g.dtype)
        gp[:2] = 0
        gp[2 + oh:] = 0
        gp[2:2 + oh, :2] = 0
        gp[2:2 + oh, 2 + ow:] = 0
        parallel(threads, lambda ranges: [to_hwnc(g[lo:hi], gp[2:2 + oh, 2:2 + ow, lo:hi])
                                          for lo, hi in ranges], n, images)
        dx = dw = None
        if pw:
            band = band_rows(tw, n, max(c, o), g.dtype.itemsize)
            v, gt = self.v, gp[2:2 + 2 * th, 2:2 + 2 * tw]
            parts = parallel(threads, lambda ranges: filter_gradient(v, gt, band, ranges), th,
                             band)
            dw = filter_adjoint(sum(parts[1:], parts[0]))
        if px:
            uf = filter_transform(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])   # flipped
            dt = hwnc(xp, 2 * th + 2, 2 * tw + 2, n, c, g.dtype)
            band = band_rows(tw + 1, n, max(c, o), g.dtype.itemsize)
            parallel(threads, lambda ranges: correlate(gp, uf, dt, band, ranges), th + 1, band)
            dx = xp.empty((n, c, oh + 2, ow + 2), dtype=g.dtype)
            parallel(threads, lambda ranges: [from_hwnc(dt[:oh + 2, :ow + 2, lo:hi], dx[lo:hi])
                                              for lo, hi in ranges], n, images)
        return dx, dw

    def graph_backward(self, g: Tensor) -> tuple:
        """Both gradients as recorded ops (im2col correlations), for ``create_graph=True``."""
        x, w = self.saved
        px, pw = (p.requires_grad for p in self.parents)
        dx = dw = None
        if px:
            gp = Pad.apply(g, pad=((0, 0), (0, 0), (2, 2), (2, 2)), value=0.0)
            flip = (slice(None), slice(None), slice(None, None, -1), slice(None, None, -1))
            wf = GetItem.apply(Permute.apply(w, dims=(1, 0, 2, 3)), index=flip)
            dx = im2col_correlate(gp, wf)
        if pw:                                            # δw[o, c] = Σ_n x[n, c] ⋆ g[n, o]
            xt = Permute.apply(x, dims=(1, 0, 2, 3))      # (C, N, H, W): N is the channel
            gt = Permute.apply(g, dims=(1, 0, 2, 3))      # (O, N, OH, OW): the "filters"
            dw = Permute.apply(im2col_correlate(xt, gt), dims=(1, 0, 2, 3))
        return dx, dw


def im2col_correlate(x: Tensor, w: Tensor) -> Tensor:
    """The stride-1 correlation of x (N, C, H, W) with w (O, C, KH, KW) as recorded
    primitives: windows -> one column per output pixel -> per image ``w @ cols``."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    win = Window.apply(x, axes=(2, 3), size=(kh, kw), stride=(1, 1), dilation=(1, 1))
    cols = Reshape.apply(Permute.apply(win, dims=(0, 1, 4, 5, 2, 3)), shape=(n, c * kh * kw,
                                                                              oh * ow))
    y = MatMul.apply(Reshape.apply(w, shape=(o, c * kh * kw)), cols)       # (N, O, OH·OW)
    return Reshape.apply(y, shape=(n, o, oh, ow))


def conv3x3(x: Tensor, w: Tensor) -> Tensor:
    """The 3x3 stride-1 correlation of an already padded x (N, C, H, W) with w (O, C, 3, 3),
    through one :class:`WinogradConv` node (both cast to a common float dtype first)."""
    if x.dtype != w.dtype or not backend.is_floating(x.dtype):
        common = backend.module_of(x.data).result_type(x.dtype, w.dtype)
        if not backend.is_floating(common):
            return im2col_correlate(x, w)
        x, w = (t if t.dtype == common else Copy.apply(t, dtype=common, device=t.device)
                for t in (x, w))
    return WinogradConv.apply(x, w)
