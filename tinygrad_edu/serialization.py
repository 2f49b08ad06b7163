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

import json
import os
from collections import OrderedDict
from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.tensor import Tensor

META_KEY = "__tg_meta__"
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
            self.arrays[key] = backend.to_host(obj.data)
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
    arrays[META_KEY] = backend.numpy_module.frombuffer(text, dtype=backend.uint8)
    backend.save_npz(os.fspath(f), arrays)


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


def load(f: Any, map_location: Any = None, weights_only: bool = True) -> Any:
    """Read a checkpoint written by :func:`save`; Tensors land on ``map_location`` ('cpu').

    A plain ``.npz`` (e.g. from ``np.savez``) loads as an OrderedDict of Tensors.
    The archive is read with ``allow_pickle=False``: a pickle, an object array or
    a truncated file is refused with a ValueError naming the file.
    """
    if not weights_only:
        raise ValueError("load: weights_only=False would mean unpickling, which can run code; "
                         "tinygrad_edu checkpoints never need it")
    device = backend.normalize_device(map_location) if map_location is not None else "cpu"
    path = os.fspath(f)
    arrays = backend.load_npz(path)
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


__all__ = ["save", "load"]
