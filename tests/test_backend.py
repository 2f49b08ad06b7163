"""The backend rule: only tinygrad_edu/backend.py (and the data-file readers) import NumPy
or CuPy; importing the package is quiet and never loads CuPy; CUDA answers False quietly."""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.engine import backend

PACKAGE = Path(tg.__file__).resolve().parent
ARRAY_LIBS = {"numpy", "cupy", "cupyx"}


def _allowed(path: Path) -> bool:
    rel = path.relative_to(PACKAGE).as_posix()
    return rel == "engine/backend.py" or rel.startswith("data/")


def array_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) for every import of numpy/cupy/cupyx anywhere in ``source``
    (top level, inside functions, ``import numpy.linalg``, ``from cupy import x``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] in ARRAY_LIBS]
    return found


def test_the_checker_catches_every_spelling() -> None:
    src = textwrap.dedent("""
        import os
        import numpy as np
        from numpy.lib import stride_tricks
        def f():
            import cupy
            from cupyx import scatter_add
        import numpyish
    """)
    assert [m for _, m in array_imports(src)] == ["numpy", "numpy.lib", "cupy", "cupyx"]


def test_only_the_backend_imports_numpy_or_cupy() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert any(f.name == "tensor.py" for f in files)
    offenders = []
    for path in files:
        if _allowed(path):
            continue
        for line, mod in array_imports(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE)}:{line} imports {mod}")
    assert not offenders, ("only tinygrad_edu/engine/backend.py (and data/ readers) may import "
                           "numpy/cupy; use `t.xp` instead:\n" + "\n".join(offenders))


def _run(code: str, extra_path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = extra_path + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_import_is_quiet_and_never_loads_cupy() -> None:
    code = textwrap.dedent("""
        import sys
        import tinygrad_edu
        import tinygrad_edu.functional, tinygrad_edu.nn
        loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'cupyx'))
        sys.stderr.write('LOADED=' + repr(loaded))
    """)
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", f"importing tinygrad_edu printed: {r.stdout!r}"
    assert "LOADED=[]" in r.stderr


@pytest.mark.parametrize("cupy_source", [
    'raise ImportError("libcuda.so.1: cannot open shared object file")',
    textwrap.dedent("""
        class _Runtime:
            @staticmethod
            def getDeviceCount():
                raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        class cuda:
            runtime = _Runtime
    """),
])
def test_cuda_is_available_is_false_quietly_when_cupy_breaks(tmp_path: Path,
                                                              cupy_source: str) -> None:
    """A CuPy that fails to import, or finds no GPU: False, no exception, no output."""
    (tmp_path / "cupy.py").write_text(cupy_source)
    code = textwrap.dedent("""
        import sys
        import tinygrad_edu as tg
        assert 'cupy' not in sys.modules
        sys.stderr.write('AVAILABLE=' + repr(tg.cuda.is_available()))
    """)
    r = _run(code, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "AVAILABLE=False" in r.stderr


def test_cuda_is_unavailable_on_this_machine() -> None:
    if importlib.util.find_spec("cupy") is not None and backend.cuda_is_available():
        pytest.skip("CuPy and a GPU are present here")
    assert tg.cuda.is_available() is False
    with pytest.raises(RuntimeError, match=r"device 'cuda' requested but CUDA is not available"):
        tg.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        tg.ones(2).to("cuda")


def test_bad_device_names_what_was_given() -> None:
    with pytest.raises(ValueError, match=r"device: expected 'cpu' or 'cuda', got 'tpu'"):
        tg.zeros(2, device="tpu")
    with pytest.raises(ValueError, match="got 'gpu'"):
        tg.tensor([1.0], device="gpu")


def test_device_strings_and_numpy_on_cpu() -> None:
    t = tg.tensor([1.0, 2.0])
    assert t.device == "cpu" and not t.is_cuda
    assert t.to("cpu") is t
    assert type(t.numpy()).__module__ == "numpy" and t.numpy().dtype == "float32"
    assert backend.normalize_device("cuda:0") == "cuda"
    for t in [tg.tensor(1.0), tg.tensor([1.0, 2.0]).sum(), tg.ones(2, 2)[0, 1], tg.arange(3)]:
        assert isinstance(t.numpy(), np.ndarray)   # never a NumPy scalar, even for 0-d
