"""Benchmarks of the workloads the issues name, side by side with NumPy and PyTorch.

    python tools/bench.py                       # every workload on the CPU
    python tools/bench.py overhead conv         # some of them
    python tools/bench.py --device cuda         # ours and PyTorch on the GPU, beside our CPU run
    python tools/bench.py --markdown            # also print the table as Markdown (for the README)

Workloads
    overhead  a chain of 1,000 small elementwise ops (mul, add, tanh, sigmoid) on a shape-(4,)
              tensor, forward + backward: microseconds per op (interpreter overhead).
    lenet     one modern LeNet-5 training step at batch 64 (forward, backward, SGD update): ms,
              plus the peak memory NumPy allocated during the step (tracemalloc).
    conv      a 64->64-channel 3x3 convolution (padding 1) on 32x32 inputs at batch 32, forward
              plus backward (input and weight gradients): GFLOP/s (3 x 2·N·O·C·9·H·W FLOPs).
    lstm      char-level LSTM step: vocabulary 65, embedding and hidden 128, batch 32, 64 steps,
              forward + backward through all steps + SGD: ms.

Each row gives the median of several timed repeats after warm-up. "NumPy reference" is the
same computation written directly in NumPy with a hand-derived backward (what the framework
costs on top of its arrays); PyTorch rows appear when torch is importable. Ratios are ours
divided by the reference (time: lower is better; GFLOP/s: higher is better).
"""
from __future__ import annotations

import os
import sys

# The BLAS thread count must be fixed before NumPy (and PyTorch) load: --threads N (default 1)
# applies to NumPy's OpenBLAS and to PyTorch alike, so both libraries get the same cores.
_THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _THREADS

import argparse
import platform
import statistics
import time
import tracemalloc
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim

try:
    import torch
except ImportError:  # PyTorch is optional: its rows are left out
    torch = None


def _sync(device: str) -> None:
    if device == "cuda":
        tg.cuda.synchronize()


def _torch_sync(device: str) -> None:
    if torch is not None and device == "cuda":
        torch.cuda.synchronize()


def measure(cands: list, repeat: int, warmup: int = 2) -> list[float]:
    """Median wall seconds of each candidate ``(fn, sync)``, timed in turn A B C A B C ...

    Interleaving makes a slow spell of a shared machine fall on every candidate alike,
    so the ratios between them stay meaningful even when the absolute times drift.
    """
    for fn, sync in cands:
        for _ in range(warmup):
            fn()
        sync()
    times: list = [[] for _ in cands]
    for _ in range(repeat):
        for k, (fn, sync) in enumerate(cands):
            t0 = time.perf_counter()
            fn()
            sync()
            times[k].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def _none() -> None:
    return None


# ---------------------------------------------------------------- overhead
def bench_overhead(device: str, repeat: int) -> list[tuple]:
    n_ops = 1000
    rng = np.random.default_rng(0)
    x0, c0 = rng.standard_normal(4).astype("float32"), rng.standard_normal(4).astype("float32")

    x = tg.tensor(x0, device=device, requires_grad=True)
    c = tg.tensor(c0, device=device)

    def ours() -> None:
        y = x
        for _ in range(n_ops // 4):
            y = (y * c + c).tanh().sigmoid()
        x.grad = None
        y.sum().backward()

    cands = [("tinygrad_edu", ours, lambda: _sync(device))]
    if device == "cpu":
        def numpy_ref() -> None:        # forward keeping what backward needs, then the chain rule
            y, saved = x0, []
            for _ in range(n_ops // 4):
                a = np.tanh(y * c0 + c0)
                s = 1 / (1 + np.exp(-a))
                saved.append((a, s))
                y = s
            g = np.ones_like(y)
            for a, s in reversed(saved):
                g = g * s * (1 - s)
                g = g * (1 - a * a)
                g = g * c0
        cands.append(("NumPy reference", numpy_ref, _none))

    if torch is not None:
        tx = torch.tensor(x0, device=device, requires_grad=True)
        tc = torch.tensor(c0, device=device)

        def torch_run() -> None:
            y = tx
            for _ in range(n_ops // 4):
                y = (y * tc + tc).tanh().sigmoid()
            tx.grad = None
            y.sum().backward()
        cands.append(("PyTorch", torch_run, lambda: _torch_sync(device)))
    times = measure([(f, s) for _, f, s in cands], repeat)
    return [(name, t / n_ops * 1e6, "µs/op") for (name, _, _), t in zip(cands, times)]


# ---------------------------------------------------------------- conv
def _conv_numpy(x: np.ndarray, w: np.ndarray, gout: np.ndarray) -> None:
    """im2col conv (stride 1, padding 1) forward and both gradients, in NumPy."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    s = xp.strides
    win = np.lib.stride_tricks.as_strided(xp, (n, h, wd, c, kh, kw),
                                          (s[0], s[2], s[3], s[1], s[2], s[3]))
    cols = win.reshape(n * h * wd, c * kh * kw)                       # (N·H·W, C·9) copy
    w2 = w.reshape(o, -1)
    out = (cols @ w2.T).reshape(n, h, wd, o).transpose(0, 3, 1, 2)      # forward
    g2 = gout.transpose(0, 2, 3, 1).reshape(n * h * wd, o)
    gw = (g2.T @ cols).reshape(w.shape)                                 # weight grad
    gcols = (g2 @ w2).reshape(n, h, wd, c, kh, kw)                      # input grad (col2im)
    gx = np.zeros_like(xp)
    for u in range(kh):
        for v in range(kw):
            gx[:, :, u:u + h, v:v + wd] += gcols[:, :, :, :, u, v].transpose(0, 3, 1, 2)
    return out, gw, gx


def bench_conv(device: str, repeat: int) -> list[tuple]:
    n, c, o, h = 32, 64, 64, 32
    flops = 3 * 2 * n * o * c * 9 * h * h
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((n, c, h, h)).astype("float32")
    w0 = (rng.standard_normal((o, c, 3, 3)) * 0.05).astype("float32")
    g0 = rng.standard_normal((n, o, h, h)).astype("float32")
    x = tg.tensor(x0, device=device, requires_grad=True)
    w = tg.tensor(w0, device=device, requires_grad=True)
    g = tg.tensor(g0, device=device)

    def ours() -> None:
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).backward(g)
    cands = [("tinygrad_edu", ours, lambda: _sync(device))]
    if device == "cpu":
        cands.append(("NumPy reference", lambda: _conv_numpy(x0, w0, g0), _none))
    if torch is not None:
        tx = torch.tensor(x0, device=device, requires_grad=True)
        tw = torch.tensor(w0, device=device, requires_grad=True)
        tgo = torch.tensor(g0, device=device)

        def torch_run() -> None:
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, padding=1).backward(tgo)
        cands.append(("PyTorch", torch_run, lambda: _torch_sync(device)))
    times = measure([(f, s) for _, f, s in cands], repeat)
    return [(name, flops / t / 1e9, "GFLOP/s") for (name, _, _), t in zip(cands, times)]


# ---------------------------------------------------------------- lenet
def _lenet_batch(device: str) -> tuple:
    rng = np.random.default_rng(0)
    xb = rng.random((64, 1, 28, 28), dtype=np.float32)
    yb = rng.integers(0, 10, 64)
    return xb, yb


def _torch_lenet() -> Any:
    tnn = torch.nn
    return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                          tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                          tnn.Linear(84, 10))


def bench_lenet(device: str, repeat: int) -> list[tuple]:
    from tinygrad_edu.models import LeNet5
    xb, yb = _lenet_batch(device)
    tg.manual_seed(0)
    model = LeNet5(variant="modern").to(device)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = tg.tensor(xb, device=device), tg.tensor(yb, device=device)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    cands = [("tinygrad_edu", step, lambda: _sync(device))]
    if torch is not None:
        torch.manual_seed(0)
        tm = _torch_lenet().to(device)
        topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
        tx = torch.tensor(xb, device=device)
        ty = torch.tensor(yb, device=device)

        def tstep() -> None:
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tm(tx), ty).backward()
            topt.step()
        cands.append(("PyTorch", tstep, lambda: _torch_sync(device)))
    times = measure([(f, s) for _, f, s in cands], repeat, warmup=3)
    peak = ""
    if device == "cpu":
        tracemalloc.start()
        step()
        peak = f"peak {tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB (NumPy, tracemalloc)"
        tracemalloc.stop()
    return [(name, t * 1e3, "ms/step", peak if k == 0 else "")
            for k, ((name, _, _), t) in enumerate(zip(cands, times))]


# ---------------------------------------------------------------- lstm
V, E, H, B, T = 65, 128, 128, 32, 64


def _lstm_numpy_step(p: dict, ids: np.ndarray, tgt: np.ndarray, lr: float = 0.1) -> None:
    """Embedding -> LSTM -> Linear -> cross-entropy, forward and hand-written BPTT, SGD."""
    x = p["emb"][ids]                                      # (T, B, E)
    xw = x.reshape(T * B, E) @ p["wih"].T + p["b"]         # all input projections at once
    xw = xw.reshape(T, B, 4 * H)
    h, c = np.zeros((B, H), np.float32), np.zeros((B, H), np.float32)
    cache, hs = [], []
    for t in range(T):
        z = xw[t] + h @ p["whh"].T                         # (B, 4H), gates i f g o
        i = 1 / (1 + np.exp(-z[:, :H]))
        f = 1 / (1 + np.exp(-z[:, H:2 * H]))
        g = np.tanh(z[:, 2 * H:3 * H])
        o = 1 / (1 + np.exp(-z[:, 3 * H:]))
        c_prev, h_prev = c, h
        c = f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        cache.append((i, f, g, o, c_prev, h_prev, tc))
        hs.append(h)
    hs = np.stack(hs)                                      # (T, B, H)
    logits = hs.reshape(T * B, H) @ p["wo"].T + p["bo"]    # (T·B, V)
    m = logits.max(1, keepdims=True)
    e = np.exp(logits - m)
    prob = e / e.sum(1, keepdims=True)
    dlog = prob
    dlog[np.arange(T * B), tgt.reshape(-1)] -= 1
    dlog /= T * B
    grads = {"wo": dlog.T @ hs.reshape(T * B, H), "bo": dlog.sum(0)}
    dhs = (dlog @ p["wo"]).reshape(T, B, H)
    dh, dc = np.zeros((B, H), np.float32), np.zeros((B, H), np.float32)
    dz_all = np.empty((T, B, 4 * H), np.float32)
    dwhh = np.zeros_like(p["whh"])
    for t in reversed(range(T)):
        i, f, g, o, c_prev, h_prev, tc = cache[t]
        dh = dh + dhs[t]
        do = dh * tc
        dc = dc + dh * o * (1 - tc * tc)
        di, df, dg = dc * g, dc * c_prev, dc * i
        dc = dc * f
        dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g),
                             do * o * (1 - o)], 1)
        dz_all[t] = dz
        dwhh += dz.T @ h_prev
        dh = dz @ p["whh"]
    dz2 = dz_all.reshape(T * B, 4 * H)
    grads["whh"] = dwhh
    grads["wih"] = dz2.T @ x.reshape(T * B, E)
    grads["b"] = dz2.sum(0)
    demb = np.zeros_like(p["emb"])
    np.add.at(demb, ids.reshape(-1), (dz2 @ p["wih"]))
    grads["emb"] = demb
    for k, gk in grads.items():
        p[k] -= lr * gk


def bench_lstm(device: str, repeat: int) -> list[tuple]:
    rng = np.random.default_rng(0)
    ids0 = rng.integers(0, V, (T, B))
    tgt0 = rng.integers(0, V, (T, B))

    class CharLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(V, E)
            self.lstm = nn.LSTM(E, H)
            self.out = nn.Linear(H, V)

        def forward(self, ids: tg.Tensor) -> tg.Tensor:
            h, _ = self.lstm(self.emb(ids))               # (T, B, H)
            return self.out(h)

    tg.manual_seed(0)
    model = CharLSTM().to(device)
    opt = optim.SGD(model.parameters(), lr=0.1)
    ids, tgt = tg.tensor(ids0, device=device), tg.tensor(tgt0, device=device)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(ids).reshape(T * B, V), tgt.reshape(-1)).backward()
        opt.step()
    cell = nn.LSTMCell(E, H).to(device)
    cell_params = list(model.emb.parameters()) + list(cell.parameters()) + list(
        model.out.parameters())
    copt = optim.SGD(cell_params, lr=0.1)

    def composed_step() -> None:       # F.lstm_cell: the composed (unfused) step, per time step
        copt.zero_grad()
        x = model.emb(ids)
        h = tg.zeros(B, H, device=device)
        c = tg.zeros(B, H, device=device)
        hs = []
        for t_ in range(T):
            h, c = F.lstm_cell(x[t_], (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih,
                               cell.bias_hh)
            hs.append(h)
        logits = model.out(tg.stack(hs)).reshape(T * B, V)
        F.cross_entropy(logits, tgt.reshape(-1)).backward()
        copt.step()
    cands = [("tinygrad_edu nn.LSTM (fused gates)", step, lambda: _sync(device)),
             ("tinygrad_edu F.lstm_cell loop (composed)", composed_step, lambda: _sync(device))]
    if device == "cpu":
        p = {"emb": rng.standard_normal((V, E)).astype(np.float32),
             "wih": (rng.standard_normal((4 * H, E)) * 0.08).astype(np.float32),
             "whh": (rng.standard_normal((4 * H, H)) * 0.08).astype(np.float32),
             "b": np.zeros(4 * H, np.float32),
             "wo": (rng.standard_normal((V, H)) * 0.08).astype(np.float32),
             "bo": np.zeros(V, np.float32)}
        cands.append(("NumPy reference (hand BPTT)", lambda: _lstm_numpy_step(p, ids0, tgt0),
                      _none))
    if torch is not None:
        tnn = torch.nn
        torch.manual_seed(0)
        temb, tcell, tlstm, tout = (tnn.Embedding(V, E).to(device), tnn.LSTMCell(E, H).to(device),
                                    tnn.LSTM(E, H).to(device), tnn.Linear(H, V).to(device))
        tids = torch.tensor(ids0, device=device)
        ttgt = torch.tensor(tgt0, device=device)
        cell_params = list(temb.parameters()) + list(tcell.parameters()) + list(tout.parameters())
        fused_params = list(temb.parameters()) + list(tlstm.parameters()) + list(tout.parameters())
        copt = torch.optim.SGD(cell_params, lr=0.1)
        fopt = torch.optim.SGD(fused_params, lr=0.1)

        def cell_step() -> None:
            copt.zero_grad()
            x = temb(tids)
            h = torch.zeros(B, H, device=device)
            c = torch.zeros(B, H, device=device)
            hs = []
            for t_ in range(T):
                h, c = tcell(x[t_], (h, c))
                hs.append(h)
            logits = tout(torch.stack(hs)).reshape(T * B, V)
            torch.nn.functional.cross_entropy(logits, ttgt.reshape(-1)).backward()
            copt.step()

        def fused_step() -> None:
            fopt.zero_grad()
            hs, _ = tlstm(temb(tids))
            logits = tout(hs).reshape(T * B, V)
            torch.nn.functional.cross_entropy(logits, ttgt.reshape(-1)).backward()
            fopt.step()
        cands.append(("PyTorch LSTMCell loop", cell_step, lambda: _torch_sync(device)))
        cands.append(("PyTorch nn.LSTM (fused)", fused_step, lambda: _torch_sync(device)))
    times = measure([(f, s) for _, f, s in cands], repeat)
    return [(name, t * 1e3, "ms/step") for (name, _, _), t in zip(cands, times)]


WORKLOADS = {"overhead": bench_overhead, "lenet": bench_lenet, "conv": bench_conv,
             "lstm": bench_lstm}
HIGHER_IS_BETTER = {"GFLOP/s"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", help=f"some of {list(WORKLOADS)} (default: all)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per row (median shown)")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/PyTorch threads for every library (default 1)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = ap.parse_args()
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    args.workloads = args.workloads or list(WORKLOADS)
    console = Console()
    if args.device == "cuda" and not tg.cuda.is_available():
        console.print("[red]--device cuda: CUDA is not available here (no CuPy or no GPU).[/red]")
        return 2
    if torch is not None:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "cuda" else ["cpu"]
    info = (f"{platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}"
            f", NumPy {np.__version__}, {args.threads} BLAS thread(s)" + (f", PyTorch {torch.__version__}" if torch else
                                           ", PyTorch not installed"))
    if args.device == "cuda":
        info += f", GPU {tg.cuda.get_device_name()}"
    table = Table(title=f"tinygrad_edu benchmarks ({info})")
    for col in ("workload", "device", "implementation", "result", "unit", "ours ÷ this", "note"):
        table.add_column(col)
    md = ["| workload | device | implementation | result | unit | ours ÷ this | note |",
          "|---|---|---|---|---|---|---|"]
    for name in args.workloads:
        for dev in devices:
            rows = WORKLOADS[name](dev, args.repeat)
            ours = rows[0][1]
            for r in rows:
                impl, value, unit = r[0], r[1], r[2]
                note = r[3] if len(r) > 3 else ""
                ratio = "" if r is rows[0] else f"{ours / value:.2f}×"
                cells = (name, dev, impl, f"{value:.3g}", unit, ratio, note)
                table.add_row(*cells)
                md.append("| " + " | ".join(cells) + " |")
    console.print(table)
    console.print("ours ÷ this: for times, < 1 means we are faster; for GFLOP/s, > 1 means "
                  "we are faster.")
    if args.markdown:
        print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
