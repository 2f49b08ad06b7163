"""Checkpoints: ``tg.save(obj, path)`` and ``tg.load(path)`` as plain ``.npz`` files.

PyTorch pickles checkpoints, and unpickling a file can run any code it
contains. Here a checkpoint is a zip of NumPy arrays read with
``allow_pickle=False``: loading a file never runs code.

What can be saved: Tensors, and dicts / lists / tuples of them mixed with
plain Python values (str, int, float, bool, None), so a model's
``state_dict()`` and an optimizer's (``{'state': {0: {...}}, 'param_groups':
[...]}``) both fit. Each Tensor becomes one array in the archive, under its
dotted path (``'fc1.weight'``, ``'state.0.exp_avg'``); everything else (the
nesting, the dict keys, the plain values) is stored as UTF-8 JSON in the
reserved entry ``'__tg_meta__'``. A model's state dict therefore reads back
with plain NumPy too: ``np.load(path)['fc1.weight']``.

>>> tg.save(model.state_dict(), "model.npz")
>>> model.load_state_dict(tg.load("model.npz"))
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
import zipfile
import zlib
from collections import OrderedDict
from typing import Any

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.tensor import Tensor

META_KEY = "__tg_meta__"
MAX_BYTES = 2**30           # 1 GiB unpacked: far above this course's checkpoints
_FORMAT = "tinygrad_edu.checkpoint"
_VERSION = 1


class _Encoder:
    """Walks an object: Tensors go to ``arrays``, the rest becomes a JSON-able tree."""

    def __init__(self) -> None:
        self.arrays: dict = {}

    def _key(self, path: str) -> str:
        key = path or "tensor"
        n = 1
        while key in self.arrays or key == META_KEY:
            n += 1
            key = f"{path or 'tensor'}#{n}"
        return key

    def encode(self, obj: Any, path: str) -> Any:
        if isinstance(obj, Tensor):
            key = self._key(path)
            self.arrays[key] = obj.detach().numpy()
            return {"tensor": key}
        if isinstance(obj, bool) or obj is None or isinstance(obj, (int, float, str)):
            return {"value": obj}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not (isinstance(k, (str, int, float, bool)) or k is None):
                    raise TypeError(f"save: dict key {k!r} at {path or '<root>'!r} has type "
                                    f"{type(k).__name__}; keys must be str, int, float, bool "
                                    "or None")
                items.append([k, self.encode(v, f"{path}.{k}" if path else str(k))])
        elif isinstance(obj, (list, tuple)):
            items = [self.encode(v, f"{path}.{i}" if path else str(i))
                     for i, v in enumerate(obj)]
        else:
            raise TypeError(f"save: can't store {type(obj).__name__} at {path or '<root>'!r}; "
                            "a checkpoint holds Tensors, dicts, lists, tuples, str, int, "
                            "float, bool and None")
        kind = ("odict" if isinstance(obj, OrderedDict) else "dict" if isinstance(obj, dict)
                else "tuple" if isinstance(obj, tuple) else "list")
        return {kind: items}


def save(obj: Any, f: Any) -> None:
    """Save a state dict (or a nest of dicts/lists of Tensors) to ``f`` as an .npz archive.

    The file is written next to ``f`` under a temporary name, flushed to disk,
    then renamed over ``f``: an interrupted save never leaves a half-written
    checkpoint, and an older file at ``f`` survives a failed save.
    """
    enc = _Encoder()
    tree = enc.encode(obj, "")
    meta = {"format": _FORMAT, "version": _VERSION, "root": tree}
    text = json.dumps(meta, allow_nan=True).encode("utf-8")
    arrays = dict(enc.arrays)
    arrays[META_KEY] = backend.host_array(list(text), dtype=backend.uint8)
    write_npz(os.fspath(f), arrays)


def _decode(node: Any, arrays: dict, used: set, device: str, where: str) -> Any:
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"load: {where}: malformed metadata node {str(node)[:80]!r}")
    (kind, body), = node.items()
    if kind == "tensor":
        if body not in arrays:
            raise ValueError(f"load: {where}: the metadata names array {body!r}, which is "
                             "missing from the archive (truncated or edited file?)")
        used.add(body)
        return Tensor(arrays[body], device=device)
    if kind == "value":
        return body
    if kind in ("dict", "odict"):
        out = OrderedDict() if kind == "odict" else {}
        for k, v in body:
            out[k] = _decode(v, arrays, used, device, where)
        return out
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays, used, device, where) for v in body]
        return tuple(items) if kind == "tuple" else items
    raise ValueError(f"load: {where}: unknown metadata node kind {kind!r}")


def load(f: Any, map_location: Any = None, weights_only: bool = True,
         max_bytes: int = MAX_BYTES) -> Any:
    """Read a checkpoint written by :func:`save`; Tensors land on ``map_location`` ('cpu').

    A plain ``.npz`` (e.g. from ``np.savez``) loads as an OrderedDict of Tensors.
    The archive is read with ``allow_pickle=False``: a pickle, an object array or
    a truncated file is refused with a ValueError naming the file. An archive that
    would expand beyond ``max_bytes`` (1 GiB unless raised) is refused before it is
    unpacked, with its compression ratio (a small file that unpacks to gigabytes is
    a "zip bomb").
    """
    if not weights_only:
        raise ValueError("load: weights_only=False would mean unpickling, which can run code; "
                         "tinygrad_edu checkpoints never need it")
    device = backend.normalize_device(map_location) if map_location is not None else "cpu"
    path = os.fspath(f)
    arrays = read_npz(path, max_bytes)
    if META_KEY not in arrays:
        return OrderedDict((k, Tensor(a, device=device)) for k, a in arrays.items())
    raw = arrays.pop(META_KEY)
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"load: {path!r}: the {META_KEY!r} entry is not valid UTF-8 JSON "
                         f"({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or "root" not in meta:
        raise ValueError(f"load: {path!r}: the {META_KEY!r} entry is not tinygrad_edu "
                         "checkpoint metadata")
    if meta.get("version", 0) > _VERSION:
        raise ValueError(f"load: {path!r} was written by a newer format (version "
                         f"{meta['version']}); this tinygrad_edu reads version {_VERSION}")
    used: set = set()
    obj = _decode(meta["root"], arrays, used, device, repr(path))
    extra = sorted(set(arrays) - used)
    if extra:
        raise ValueError(f"load: {path!r}: arrays {extra} are not described by the metadata "
                         "(edited file?)")
    return obj


# ---------------------------------------------------------------- the archive (.npz)
def _leftovers(path: str) -> list:
    """Temporary files of earlier saves to ``path`` whose process is gone (a kill -9)."""
    folder, base = os.path.split(os.path.abspath(path))
    stale = []
    for name in os.listdir(folder or "."):
        pid = name[len(base) + 5:] if name.startswith(base + ".tmp-") else ""
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                stale.append(os.path.join(folder, name))
            except PermissionError:
                pass                                  # alive, someone else's
    return stale


def write_npz(path: str, arrays: dict) -> None:
    """Write ``{name: host array}`` as an uncompressed .npz archive, atomically.

    The archive goes to ``path + '.tmp-<pid>'`` in the same folder, is flushed and
    fsync'ed, then renamed over ``path`` (``os.replace``): a crash leaves either the
    old file or the new one, never half a file. A temporary file left by a save whose
    process was killed is removed here, with a warning naming it.
    """
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise TypeError(f"save: array {name!r} has dtype {a.dtype}; a checkpoint holds "
                            "only numeric and bool arrays")
    stale = _leftovers(path)
    for old in stale:
        with contextlib.suppress(OSError):
            os.remove(old)
    if stale:
        warnings.warn(f"save: removed {len(stale)} temporary file(s) left by an interrupted "
                      f"save to {path!r}: {stale}", stacklevel=3)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED,
                                 allowZip64=True) as zf:
                for name, a in arrays.items():
                    with zf.open(name + ".npy", "w", force_zip64=True) as member:
                        backend.write_array(member, a)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError):      # make the rename itself durable (POSIX)
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_npz(path: str, max_bytes: int = MAX_BYTES) -> dict:
    """Read a .npz archive into ``{name: host array}``; nothing in the file is executed.

    A pickle, a truncated or corrupt archive, an entry that is not a .npy array, an
    object array, or an archive expanding beyond ``max_bytes`` gives a ValueError naming
    the file (and the entry).
    """
    with open(path, "rb") as f:            # FileNotFoundError speaks for itself
        head = f.read(8)
    if not head.startswith(b"PK"):
        what = ("it holds a Python pickle, which could run code when loaded; refused"
                if head[:1] == b"\x80" else "it is a single .npy array, not an .npz archive"
                if head.startswith(b"\x93NUMPY") else "the file is empty" if not head
                else "it is not a zip archive")
        raise ValueError(f"load: {path!r} is not an .npz checkpoint: {what}")
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            packed = max(1, sum(i.compress_size for i in infos))
            if total > max_bytes:
                raise ValueError(f"load: {path!r} would expand from {packed:,} to {total:,} "
                                 f"bytes (ratio {total / packed:,.0f}:1), beyond max_bytes="
                                 f"{max_bytes:,}; pass a larger max_bytes if you trust it")
            for info in infos:
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as member:
                    data = member.read(info.file_size + 1)
                if not info.filename.endswith(".npy") or not data.startswith(b"\x93NUMPY"):
                    raise ValueError(f"load: {path!r}: entry {name!r} is not a NumPy array "
                                     "(is this a torch .pt file or another zip archive?); "
                                     "refused")
                if len(data) > info.file_size:
                    raise ValueError(f"load: {path!r}: entry {name!r} is longer than its "
                                     "declared size; refused")
                try:
                    arr = backend.read_array(data)
                except ValueError as e:
                    if "pickle" in str(e) or "Object arrays" in str(e):
                        raise ValueError(f"load: {path!r}: entry {name!r} holds Python objects "
                                         "(pickled data), which could run code when loaded; "
                                         "refused: a checkpoint holds plain numeric arrays") \
                            from None
                    raise ValueError(f"load: {path!r}: entry {name!r} is corrupt ({e})") from e
                if arr.dtype.kind not in "biuf":
                    raise ValueError(f"load: {path!r}: entry {name!r} has dtype {arr.dtype}; "
                                     "only numeric and bool arrays are accepted")
                out[name] = arr
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
        raise ValueError(f"load: {path!r} is truncated or corrupt, not a readable .npz "
                         f"archive ({type(e).__name__}: {e})") from e
    return out


__all__ = ["save", "load"]
