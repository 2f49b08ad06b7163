"""Benchmarks of the workloads the issues name: ours with the fast lane on and off, beside
PyTorch (and a plain NumPy version where one is written), in one run.

    python tools/bench.py                         # every workload, 1 thread
    python tools/bench.py lenet conv --threads 1 2   # some workloads, at 1 and at 2 threads
    python tools/bench.py --markdown              # also print the table as Markdown (README)
    python tools/bench.py --device cuda           # ours and PyTorch on the GPU

Workloads
    overhead   1,000 small elementwise ops (mul, add, tanh, sigmoid) on a shape-(4,) tensor,
               forward + backward: µs per op (the interpreter's overhead per op).
    lenet      one modern LeNet-5 training step, batch 64 (forward, backward, SGD): ms.
    conv       a 64->64-channel 3x3 convolution, padding 1, 32x32 inputs, batch 32, forward
               + input and filter gradients: GFLOP/s (3 x 2·N·O·C·9·H·W FLOPs).
    lstm_cell  char-LSTM step (V 65, E = H = 128, B 32, T 64: embedding, recurrent, linear,
               cross-entropy, backward, SGD) written as a learner writes it: nn.LSTMCell in a
               Python loop, against PyTorch's LSTMCell loop: ms.
    lstm       the same model with nn.LSTM over the whole sequence, against PyTorch's nn.LSTM.
    gru_cell, gru, rnn_cell, rnn   the same two forms with a GRU and an Elman (tanh) RNN.
    memory     the RSS rise of one T = 256 char-LSTM training step, each implementation in a
               fresh process: MiB (the goal compares the LSTMCell loops, ours against
               PyTorch's; the note gives both nn.LSTM figures).
    explorer   the HTML explorer of a 64-step LSTM graph (lane off) against Graphviz's dot
               alone on the same graph: seconds.

Each figure is the median of ``--repeat`` timed rounds after warm-up; in each round the
implementations run in turn (A B C A B C ...), so a slow spell of a shared machine falls
on all of them and the ratios hold. PyTorch runs in a process of its own, as a user runs
it (:class:`TorchProcess`): what our fast lane sets for its process (glibc's allocator, on
the first optimizer step) never reaches PyTorch, and the two libraries' threads never
share a process. Each timed run starts after a short pause, so that the last one's idle
worker threads have stopped spinning (see ``measure``). The lane-off column runs the same
code inside ``tg.fast(False)`` (in the same process: the host allocator, once tuned by a
lane-on optimizer step, stays tuned). ``--threads`` sets the BLAS threads of NumPy and
PyTorch alike; several counts run one subprocess each, merged into one table.
"""
from __future__ import annotations

import os
import sys

# The BLAS thread count is fixed before NumPy (and PyTorch) load: --threads N (default 1)
# applies to NumPy's OpenBLAS and to PyTorch alike, so both libraries get the same cores.
_ARGS = sys.argv[1:]
_COUNTS = [a for a in _ARGS[_ARGS.index("--threads") + 1:] if a.isdigit()] \
    if "--threads" in _ARGS else []
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _COUNTS[0] if _COUNTS else "1"     # (several: one child process each)

import argparse
import importlib.metadata
import importlib.util
import json
import platform
import statistics
import subprocess
import time
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.table import Table

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim

# PyTorch runs in a process of its own (see TorchProcess): this one never imports it, so
# nothing ours sets (the lane tunes glibc's allocator on its first optimizer step; BLAS
# threads) reaches PyTorch. Optional: without it, its columns are left empty.
HAVE_TORCH = importlib.util.find_spec("torch") is not None
torch: Any = None               # the module, in PyTorch's process only

HERE = os.path.dirname(os.path.abspath(__file__))


def _sync(device: str) -> None:
    if device == "cuda":
        tg.cuda.synchronize()


def _torch_sync(device: str) -> None:
    if torch is not None and device == "cuda":
        torch.cuda.synchronize()


def _off(fn: Callable) -> Callable:
    """``fn`` with the fast lane off."""
    def run() -> None:
        with tg.fast(False):
            fn()
    return run


QUIET_S = 0.25


def measure(cands: dict, repeat: int, warmup: int = 2, quiet: float = QUIET_S) -> dict:
    """Median wall seconds of each candidate ``name -> (fn, sync)``, timed in turn. A
    candidate run in another process (PyTorch's) returns the seconds it took there.

    Each timed run starts after a pause of ``quiet`` seconds: BLAS and OpenMP worker
    threads keep spinning for a while after a parallel call (OpenBLAS's for about 0.1 s),
    and on a 2-core machine the last candidate's spinning threads held a core while the
    next one ran (PyTorch's two-thread LeNet-5 step measured 22-25 ms right after ours,
    13-14 ms after a pause)."""
    for fn, sync in cands.values():
        for _ in range(warmup):
            fn()
        sync()
    times: dict = {k: [] for k in cands}
    names = list(cands)
    for r in range(repeat):             # each round starts with the next candidate, so that
        for k in names[r % len(names):] + names[:r % len(names)]:   # none always follows
            fn, sync = cands[k]                                      # the same one
            time.sleep(quiet)
            t0 = time.perf_counter()
            took = fn()
            sync()
            times[k].append(time.perf_counter() - t0 if took is None else took)
    return {k: statistics.median(v) for k, v in times.items()}


def _ours(step: Callable, device: str) -> dict:
    return {"on": (step, lambda: _sync(device)), "off": (_off(step), lambda: _sync(device))}


# ---------------------------------------------------------------- overhead
N_OPS = 1000


def overhead_data() -> tuple:
    rng = np.random.default_rng(0)
    return rng.standard_normal(4).astype("float32"), rng.standard_normal(4).astype("float32")


def overhead_step(lib: Any, device: str) -> Callable:
    """The overhead workload in ``lib`` (``tinygrad_edu`` or ``torch``): N_OPS tiny ops on a
    shape-(4,) tensor, then backward."""
    x0, c0 = overhead_data()
    x = lib.tensor(x0, device=device, requires_grad=True)
    c = lib.tensor(c0, device=device)

    def run() -> None:
        y = x
        for _ in range(N_OPS // 4):
            y = (y * c + c).tanh().sigmoid()
        x.grad = None
        y.sum().backward()
    return run


def bench_overhead(device: str, repeat: int) -> dict:
    x0, c0 = overhead_data()
    cands = _ours(overhead_step(tg, device), device)
    if device == "cpu":
        def numpy_ref() -> None:        # forward keeping what backward needs, then the chain rule
            y, saved = x0, []
            for _ in range(N_OPS // 4):
                a = np.tanh(y * c0 + c0)
                s = 1 / (1 + np.exp(-a))
                saved.append((a, s))
                y = s
            g = np.ones_like(y)
            for a, s in reversed(saved):
                g = g * s * (1 - s) * (1 - a * a) * c0
        cands["numpy"] = (numpy_ref, _none)
    if HAVE_TORCH:
        cands["torch"] = torch_candidate("overhead", device)
    times = measure(cands, repeat)
    return {"unit": "µs/op", "goal": ("le", 0.85),
            **{k: t / N_OPS * 1e6 for k, t in times.items()}}


def _none() -> None:
    return None


# ---------------------------------------------------------------- lenet
def lenet_batch() -> tuple:
    """The benchmark's batch: 64 random 28x28 images and labels (NumPy arrays)."""
    rng = np.random.default_rng(0)
    return rng.random((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)


def lenet_step(device: str) -> Callable:
    """One training step of our modern LeNet-5 on :func:`lenet_batch` (SGD, momentum)."""
    from tinygrad_edu.models import LeNet5
    xb, yb = lenet_batch()
    tg.manual_seed(0)
    model = LeNet5(variant="modern").to(device)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = tg.tensor(xb, device=device), tg.tensor(yb, device=device)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def bench_lenet(device: str, repeat: int) -> dict:
    cands = _ours(lenet_step(device), device)
    if HAVE_TORCH:
        cands["torch"] = torch_candidate("lenet", device)
    times = measure(cands, repeat, warmup=3)
    return {"unit": "ms/step", "goal": ("le", 1.0), **{k: t * 1e3 for k, t in times.items()}}


def torch_lenet(device: str) -> Callable:
    xb, yb = lenet_batch()
    tnn = torch.nn
    torch.manual_seed(0)
    tm = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                        tnn.Linear(84, 10)).to(device)
    topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.tensor(xb, device=device), torch.tensor(yb, device=device)

    def step() -> None:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tm(tx), ty).backward()
        topt.step()
    return step


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
    (cols @ w2.T).reshape(n, h, wd, o).transpose(0, 3, 1, 2)          # forward
    g2 = gout.transpose(0, 2, 3, 1).reshape(n * h * wd, o)
    (g2.T @ cols).reshape(w.shape)                                    # weight grad
    gcols = (g2 @ w2).reshape(n, h, wd, c, kh, kw)                    # input grad (col2im)
    gx = np.zeros_like(xp)
    for u in range(kh):
        for v in range(kw):
            gx[:, :, u:u + h, v:v + wd] += gcols[:, :, :, :, u, v].transpose(0, 3, 1, 2)


def conv_data() -> tuple:
    """x (32, 64, 32, 32), w (64, 64, 3, 3), the output gradient g, and the FLOPs."""
    n, c, o, h = 32, 64, 64, 32
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((n, c, h, h)).astype("float32")
    w0 = (rng.standard_normal((o, c, 3, 3)) * 0.05).astype("float32")
    g0 = rng.standard_normal((n, o, h, h)).astype("float32")
    return x0, w0, g0, 3 * 2 * n * o * c * 9 * h * h


def conv_step(lib: Any, device: str) -> Callable:
    """The conv workload in ``lib`` (``tinygrad_edu`` or ``torch``): forward, then both
    gradients."""
    x0, w0, g0, _ = conv_data()
    x = lib.tensor(x0, device=device, requires_grad=True)
    w = lib.tensor(w0, device=device, requires_grad=True)
    g = lib.tensor(g0, device=device)
    conv2d = torch.nn.functional.conv2d if lib is torch else F.conv2d

    def run() -> None:
        x.grad = w.grad = None
        conv2d(x, w, padding=1).backward(g)
    return run


def bench_conv(device: str, repeat: int) -> dict:
    x0, w0, g0, flops = conv_data()
    cands = _ours(conv_step(tg, device), device)
    if device == "cpu":
        cands["numpy"] = (lambda: _conv_numpy(x0, w0, g0), _none)
    if HAVE_TORCH:
        cands["torch"] = torch_candidate("conv", device)
    times = measure(cands, repeat)
    return {"unit": "GFLOP/s", "goal": ("ge", 0.85),
            **{k: flops / t / 1e9 for k, t in times.items()}}


# ---------------------------------------------------------------- recurrent
V, E, H, B, T = 65, 128, 128, 32, 64
CELLS = {"lstm": ("LSTMCell", "LSTM"), "gru": ("GRUCell", "GRU"), "rnn": ("RNNCell", "RNN")}


def char_model(lib: Any, kind: str, cell: bool, device: str, steps: int = T) -> Callable:
    """One training step of a char model (embedding, recurrent, linear, cross-entropy,
    SGD) in ``lib`` (``tinygrad_edu`` or ``torch``): the recurrent part a Python loop of
    cells, or one layer over the whole sequence."""
    is_torch = lib is torch
    lnn = torch.nn if is_torch else nn
    rng = np.random.default_rng(0)
    ids0, tgt0 = rng.integers(0, V, (steps, B)), rng.integers(0, V, (steps, B))
    (torch.manual_seed if is_torch else tg.manual_seed)(0)
    emb = lnn.Embedding(V, E).to(device)
    rec = getattr(lnn, CELLS[kind][0 if cell else 1])(E, H).to(device)
    out = lnn.Linear(H, V).to(device)
    params = list(emb.parameters()) + list(rec.parameters()) + list(out.parameters())
    opt = (torch.optim if is_torch else optim).SGD(params, lr=0.1)
    make = (lambda a: torch.tensor(a, device=device)) if is_torch else \
        (lambda a: tg.tensor(a, device=device))
    ids, tgt = make(ids0), make(tgt0).reshape(-1)
    zeros = (lambda: torch.zeros(B, H, device=device)) if is_torch else \
        (lambda: tg.zeros(B, H, device=device))
    stack = torch.stack if is_torch else tg.stack
    loss_fn = torch.nn.functional.cross_entropy if is_torch else F.cross_entropy

    def step() -> None:
        opt.zero_grad()
        x = emb(ids)
        if cell:
            h, hs = (zeros(), zeros()) if kind == "lstm" else zeros(), []
            for t in range(steps):
                h = rec(x[t], h)
                hs.append(h[0] if kind == "lstm" else h)
            seq = stack(hs)
        else:
            seq, _ = rec(x)
        loss_fn(out(seq).reshape(steps * B, V), tgt).backward()
        opt.step()
    return step


def _recurrent(kind: str, cell: bool) -> Callable:
    def bench(device: str, repeat: int) -> dict:
        cands = _ours(char_model(tg, kind, cell, device), device)
        if HAVE_TORCH:
            cands["torch"] = torch_candidate(f"{kind}_cell" if cell else kind, device)
        times = measure(cands, repeat)
        return {"unit": "ms/step", "goal": ("le", 0.9 if cell else 1.25),
                **{k: t * 1e3 for k, t in times.items()}}
    return bench


_MEMORY_CHILD = """
import sys
sys.argv = ["bench"]
import tools.bench as b         # run from the repository root (python -c puts it on the path)
if {lib!r} == "torch":
    import torch
    b.torch = torch
lib = b.torch if {lib!r} == "torch" else b.tg
step = b.char_model(lib, "lstm", {cell!r}, "cpu", steps=256)
def status(key):                # VmHWM: this process image's peak (ru_maxrss would carry
    with open("/proc/self/status") as f:              # the peak of the process it forked from)
        return next(int(l.split()[1]) for l in f if l.startswith(key))
try:                            # start the peak afresh (Linux: 5 resets VmHWM)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = status("VmRSS")
step()
print((status("VmHWM") - before) / 1024)
"""


def bench_memory(device: str, repeat: int) -> dict:
    """RSS rise of one T = 256 char-LSTM step, each in a fresh process (median of runs)."""
    root = os.path.dirname(HERE)

    def rise(lib: str, cell: bool) -> float:
        code = _MEMORY_CHILD.format(lib=lib, cell=cell)
        runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True, check=True, cwd=root).stdout.split()[-1])
                for _ in range(max(1, min(repeat, 3)))]
        return statistics.median(runs)
    out = {"unit": "MiB", "goal": ("le", 1.0), "on": rise("ours", True),
           "on_layer": rise("ours", False)}
    if HAVE_TORCH:
        out["torch"] = rise("torch", True)
        out["torch_layer"] = rise("torch", False)
    return out


def bench_explorer(device: str, repeat: int) -> dict:
    from tinygrad_edu.viz.explorer import time_explorer
    r = time_explorer(steps=64, repeat=max(1, min(repeat, 3)), fast=False)
    return {"unit": "s", "goal": ("le", 2.0), "off": r["explorer_s"], "dot": r["dot_s"],
            "note": f"{r['ops']} ops, page {r['mb']:.1f} MB; dot alone {r['dot_s']:.2f} s"}


# ---------------------------------------------------------------- where a step's time goes
def breakdown(console: Console, steps: int = 30) -> list:
    """Where LeNet-5's training step spends its time, lane on and off: the convolutions'
    GEMMs (batched MatMuls), the linear layers' GEMMs, the patch copy (a Reshape of a
    non-contiguous window view: im2col's copy), the fold (WindowFold: col2im) and the
    rest (the other ops and the interpreter). Timed by wrapping those ops' ``forward``
    (the same op's backward runs forward of other ops, so nothing is counted twice)."""
    from tinygrad_edu.engine import ops
    from tinygrad_edu.fastlane import fold, gemm
    acc: dict = {}

    def timed(cls: type, label: Callable) -> Callable:
        orig = cls.__dict__["forward"]

        def forward(self: Any, *a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            out = orig(self, *a, **k)
            name = label(*a)
            if name:
                acc[name] = acc.get(name, 0.0) + time.perf_counter() - t0
            return out
        return orig, forward
    gemm_label = (lambda a, b: "GEMM (conv)" if max(a.ndim, b.ndim) > 2 else "GEMM (linear)")
    labels = {ops.MatMul: gemm_label, gemm.GemmOrder: gemm_label,
              ops.Reshape: lambda x, **k: None if x.flags.c_contiguous else "patch copy",
              ops.WindowFold: lambda *a, **k: "fold", fold.FoldPaths: lambda *a, **k: "fold"}
    saved = {cls: timed(cls, lab) for cls, lab in labels.items()}
    step = lenet_step("cpu")
    rows = []
    try:
        for cls, (_, fwd) in saved.items():
            setattr(cls, "forward", fwd)
        for lane in (True, False):
            with tg.fast(lane):
                for _ in range(3):
                    step()
                acc.clear()
                t0 = time.perf_counter()
                for _ in range(steps):
                    step()
                total = (time.perf_counter() - t0) / steps
            parts = {k: v / steps for k, v in acc.items()}
            parts["the rest"] = total - sum(parts.values())
            rows.append((lane, total, parts))
    finally:
        for cls, (orig, _) in saved.items():
            setattr(cls, "forward", orig)
    table = Table(title="LeNet-5 step, batch 64: where the time goes (ms, share)")
    names = ["GEMM (conv)", "patch copy", "fold", "GEMM (linear)", "the rest"]
    for col in ["lane", "step"] + names:
        table.add_column(col)
    for lane, total, parts in rows:
        table.add_row("on" if lane else "off", f"{total * 1e3:.2f}",
                      *[f"{parts.get(n, 0) * 1e3:.2f} ({parts.get(n, 0) / total:.0%})"
                        for n in names])
    console.print(table)
    return rows


# ---------------------------------------------------------------- PyTorch's process
def _torch_char(kind: str, cell: bool) -> Callable:
    return lambda device: char_model(torch, kind, cell, device)


TORCH_STEPS: dict = {"overhead": lambda device: overhead_step(torch, device),
                     "lenet": torch_lenet, "conv": lambda device: conv_step(torch, device),
                     **{f"{k}_cell": _torch_char(k, True) for k in CELLS},
                     **{k: _torch_char(k, False) for k in CELLS}}


class TorchProcess:
    """PyTorch's side of the workloads, in a child process of its own, as a user runs it.

    In one process, what our fast lane sets would reach PyTorch too: its first optimizer
    step tunes glibc's allocator for the whole process (it cut PyTorch's LeNet-5 step by
    16-39%), and both libraries' BLAS and OpenMP threads would share the cores.
    The child runs one candidate per request and answers with the seconds it took there,
    so the rounds still alternate (ours, ours lane off, PyTorch, ...). One benchmark
    process runs one thread count, so it needs one child."""
    _running: "TorchProcess | None" = None

    def __init__(self, threads: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--torch-process", "--threads",
             str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=os.path.dirname(HERE))

    @classmethod
    def get(cls) -> "TorchProcess":
        if cls._running is None:
            cls._running = cls(int(os.environ["OPENBLAS_NUM_THREADS"]))
        return cls._running

    @classmethod
    def close(cls) -> None:
        if cls._running is not None:
            cls._running.proc.communicate()     # closes its stdin: the child's loop ends
            cls._running = None

    def ask(self, **request: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("PyTorch's benchmark process ended (its error is above)")
        return json.loads(line)


def torch_candidate(workload: str, device: str) -> tuple:
    """(fn, sync) for :func:`measure`: PyTorch's step of ``workload``, run in its process."""
    proc = TorchProcess.get()
    key = proc.ask(build=workload, device=device)
    return (lambda: proc.ask(run=key)), _none


def serve_torch(threads: int) -> None:
    """The child's loop: build a PyTorch step, or run one and answer the seconds it took,
    one JSON request per line on stdin, one answer per line on stdout."""
    global torch
    import torch as torch_module
    torch = torch_module
    torch.set_num_threads(threads)
    steps: list = []
    for line in sys.stdin:
        request = json.loads(line)
        if "build" in request:
            device = request["device"]
            steps.append((TORCH_STEPS[request["build"]](device), device))
            answer: Any = len(steps) - 1
        else:
            step, device = steps[request["run"]]
            t0 = time.perf_counter()
            step()
            _torch_sync(device)
            answer = time.perf_counter() - t0
        print(json.dumps(answer), flush=True)


WORKLOADS = {"overhead": bench_overhead, "lenet": bench_lenet, "conv": bench_conv,
             "lstm_cell": _recurrent("lstm", True), "lstm": _recurrent("lstm", False),
             "gru_cell": _recurrent("gru", True), "gru": _recurrent("gru", False),
             "rnn_cell": _recurrent("rnn", True), "rnn": _recurrent("rnn", False),
             "memory": bench_memory, "explorer": bench_explorer}


def ratio(row: dict, ours: str, other: str) -> float | None:
    """ours ÷ other, as a 'lower is better' figure (inverted for GFLOP/s)."""
    if row.get(ours) is None or row.get(other) is None:
        return None
    r = row[ours] / row[other]
    return 1 / r if row["unit"] == "GFLOP/s" else r


def verdict(row: dict, name: str) -> str:
    kind, bound = row["goal"]
    if name == "explorer":
        r = ratio(row, "off", "dot")
    elif name == "memory":
        r = ratio(row, "on", "torch")
    else:
        r = ratio(row, "on", "torch")
    if r is None:
        return ""
    value = 1 / r if row["unit"] == "GFLOP/s" else r
    met = value >= bound if kind == "ge" else value <= bound
    return f"{'met' if met else 'NOT met'} ({value:.2f} {'≥' if kind == 'ge' else '≤'} {bound})"


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.3g}"


def rows_of(results: dict) -> list[list[str]]:
    out = []
    for (name, threads, device), row in results.items():
        off = ratio(row, "off", "torch")
        out.append([name, str(threads), device, row["unit"], _fmt(row.get("on")),
                    _fmt(row.get("off")), _fmt(row.get("torch")), _fmt(row.get("numpy")),
                    _fmt(ratio(row, "on", "torch")) + ("×" if row.get("torch") else ""),
                    _fmt(off) + ("×" if off is not None else ""), verdict(row, name),
                    row.get("note", "") or _memory_note(row)])
    return out


def _memory_note(row: dict) -> str:
    if "on_layer" not in row:
        return ""
    return (f"the LSTMCell loops; nn.LSTM: ours {row['on_layer']:.1f}, PyTorch "
            f"{row.get('torch_layer', float('nan')):.1f}")


def training_state() -> None:
    """One optimizer step with the lane on, as a training loop's first: there the lane
    tunes the host allocator, once per process (``fastlane.allocator``). Every workload is
    then timed in the state training runs in, whichever workloads are asked for: without
    it, ``bench.py conv`` alone measured 41 GFLOP/s, and 50 after ``lenet``."""
    with tg.fast(True):
        p = tg.zeros(1, requires_grad=True)
        p.sum().backward()
        optim.SGD([p], lr=0.0).step()


def run(workloads: list, device: str, repeat: int, threads: int) -> dict:
    training_state()
    results = {}
    devices = ["cpu", "cuda"] if device == "cuda" else ["cpu"]
    for name in workloads:
        for dev in devices:
            if name in ("memory", "explorer") and (dev == "cuda" or threads > 1):
                continue                # one figure each: neither depends on BLAS threads
            results[(name, threads, dev)] = WORKLOADS[name](dev, repeat)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", help=f"some of {list(WORKLOADS)} (default: all)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeat", type=int, default=7, help="timed rounds (median shown)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1],
                    help="BLAS/PyTorch thread counts, one run each (default 1)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--breakdown", action="store_true",
                    help="only print where LeNet-5's step spends its time (lane on and off)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--torch-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_process:
        serve_torch(args.threads[0])
        return 0
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    workloads = args.workloads or list(WORKLOADS)
    console = Console(width=max(Console().width, 180))     # 12 columns: never squeeze
    if args.breakdown:
        breakdown(console)
        return 0
    if args.device == "cuda" and not tg.cuda.is_available():
        console.print("[red]--device cuda: CUDA is not available here (no CuPy or no GPU).[/red]")
        return 2
    results: dict = {}
    if len(args.threads) == 1 or args.child:
        try:
            results = run(workloads, args.device, args.repeat, args.threads[0])
        finally:
            TorchProcess.close()
    else:                               # one process per thread count (BLAS reads it at load)
        for n in args.threads:
            out = f"/tmp/tg_bench_{os.getpid()}_{n}.json"
            subprocess.run([sys.executable, os.path.abspath(__file__), *workloads, "--device",
                            args.device, "--repeat", str(args.repeat), "--threads", str(n),
                            "--json", out, "--child"], check=True,
                           stdout=subprocess.DEVNULL)
            with open(out) as f:
                results.update({tuple(k.split("|")[:1]) + (int(k.split("|")[1]),
                                                           k.split("|")[2]): v
                                for k, v in json.load(f).items()})
            os.remove(out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{k[0]}|{k[1]}|{k[2]}": v for k, v in results.items()}, f)
        if args.child:
            return 0
    info = (f"{platform.machine()} {_cpu_name()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, NumPy {np.__version__}"
            + (f", PyTorch {importlib.metadata.version('torch')}" if HAVE_TORCH
               else ", PyTorch not installed"))
    header = ["workload", "threads", "device", "unit", "ours", "ours, lane off", "PyTorch",
              "NumPy", "ours ÷ PyTorch", "lane off ÷ PyTorch", "goal", "note"]
    table = Table(title=f"tinygrad_edu benchmarks ({info}; medians of {args.repeat} "
                        "interleaved rounds)")
    for col in header:
        table.add_column(col)
    rows = rows_of(results)
    for r in rows:
        table.add_row(*r)
    console.print(table)
    console.print("ours ÷ PyTorch: time (or memory) ratio, < 1 means we are faster (smaller); "
                  "for GFLOP/s the ratio is inverted so < 1 still means faster.\n"
                  "explorer: ours is the HTML page of the lane-off graph, the reference "
                  "column is dot alone on the same graph.")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    return 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "CPU"


if __name__ == "__main__":
    sys.exit(main())
