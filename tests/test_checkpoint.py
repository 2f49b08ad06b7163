"""Checkpoints: tg.save / tg.load round trips, torch interop, atomic writes, and refusal of
pickles, truncated files and wrong keys or shapes (each with its message)."""
from __future__ import annotations

import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, serialization
from tinygrad_edu.engine import backend
from conftest import torch_or_skip


def _model() -> nn.Module:
    tg.manual_seed(0)
    return nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 6),
                         nn.BatchNorm1d(6), nn.ReLU(), nn.LayerNorm(6), nn.Linear(6, 3))


def _torch_model(torch):
    return torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Flatten(),
                               torch.nn.Linear(12, 6), torch.nn.BatchNorm1d(6),
                               torch.nn.ReLU(), torch.nn.LayerNorm(6), torch.nn.Linear(6, 3))


def _trained(model: nn.Module) -> nn.Module:
    """Two training-mode forwards so the batch-norm buffers are not at their defaults."""
    for seed in (1, 2):
        tg.manual_seed(seed)
        model(tg.randint(0, 10, (5, 3)))
    return model


def test_state_dict_round_trip(tmp_path):
    model = _trained(_model())
    path = tmp_path / "model.npz"
    tg.save(model.state_dict(), path)
    loaded = tg.load(path)
    assert isinstance(loaded, OrderedDict)
    assert list(loaded) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == value.dtype, key
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy(), err_msg=key)
    fresh = _model()
    fresh.load_state_dict(loaded)
    fresh.eval()
    model.eval()
    idx = tg.tensor([[1, 2, 3], [9, 0, 4]])
    np.testing.assert_array_equal(fresh(idx).detach().numpy(), model(idx).detach().numpy())


def test_file_is_plain_npz_without_pickles(tmp_path):
    path = tmp_path / "m.npz"
    tg.save(nn.Linear(3, 2).state_dict(), path)
    with np.load(path, allow_pickle=False) as z:     # readable by plain NumPy, no pickle
        assert sorted(z.files) == ["__tg_meta__", "bias", "weight"]
        assert z["weight"].shape == (2, 3)


def test_nested_optimizer_like_state(tmp_path):
    state = {"state": {0: {"step": 3, "exp_avg": tg.tensor([1.0, 2.0]),
                           "mask": tg.tensor([True, False])},
                       1: {"step": 3, "exp_avg": tg.zeros(2, 2, dtype=tg.float64)}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                               "nesterov": False, "foreach": None, "name": "all"}],
             "best": float("inf")}
    tg.save(state, tmp_path / "opt.npz")
    got = tg.load(tmp_path / "opt.npz")
    assert set(got["state"]) == {0, 1}                  # int keys stay ints
    np.testing.assert_array_equal(got["state"][0]["exp_avg"].numpy(), [1.0, 2.0])
    assert got["state"][0]["mask"].dtype == tg.bool_
    assert got["state"][1]["exp_avg"].dtype == tg.float64
    assert got["state"][0]["step"] == 3
    assert got["param_groups"] == [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                    "nesterov": False, "foreach": None, "name": "all"}]
    assert got["best"] == float("inf")


def test_map_location_cpu(tmp_path):
    tg.save({"w": tg.ones(2)}, tmp_path / "a.npz")
    assert tg.load(tmp_path / "a.npz", map_location="cpu")["w"].device == "cpu"


def test_plain_numpy_npz_loads_as_state_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", weight=np.ones((2, 3), np.float32),
             bias=np.zeros(2, np.float32))
    sd = tg.load(tmp_path / "plain.npz")
    nn.Linear(3, 2).load_state_dict(sd)


def test_state_dict_saved_here_loads_into_torch(tmp_path):
    torch = torch_or_skip()
    model = _trained(_model())
    path = tmp_path / "for_torch.npz"
    tg.save(model.state_dict(), path)
    with np.load(path, allow_pickle=False) as z:
        sd = {k: torch.from_numpy(z[k]) for k in z.files if k != "__tg_meta__"}
    theirs = _torch_model(torch)
    theirs.load_state_dict(sd, strict=True)
    theirs.eval()
    model.eval()
    idx = np.array([[1, 2, 3], [9, 0, 4], [5, 5, 5]])
    np.testing.assert_allclose(model(tg.tensor(idx)).detach().numpy(),
                               theirs(torch.tensor(idx)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_torch_state_dict_loads_here():
    torch = torch_or_skip()
    theirs = _torch_model(torch)
    ours = _model()
    ours.load_state_dict(theirs.state_dict(), strict=True)   # torch tensors are accepted
    np.testing.assert_array_equal(ours[2].weight.detach().numpy(),
                                  theirs[2].weight.detach().numpy())


# ---------------------------------------------------------------- atomic saving
def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": tg.ones(3)}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        tg.save({"w": tg.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]


def test_crash_while_writing_arrays_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": tg.ones(3)}, path)
    calls = []

    def fail_second(fh, arr, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(fh, arr, **kwargs)

    original = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", fail_second)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"a": tg.zeros(3), "b": tg.zeros(4)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(tg.load(path)["w"].numpy(), np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


# ---------------------------------------------------------------- refusals and messages
class _Evil:
    """Unpickling this would run os.system: loading must never get that far."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"weight": _Evil()}))
    with pytest.raises(ValueError, match="holds a Python pickle.*refused"):
        tg.load(path)
    assert not (tmp_path / "PWNED").exists()


def test_npz_with_object_array_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.array([_Evil(), 1], dtype=object))   # savez pickles objects
    with pytest.raises(ValueError, match="entry 'weight' holds Python objects .*refused"):
        tg.load(path)
    assert not (tmp_path / "PWNED").exists()


def test_torch_pt_file_is_refused(tmp_path):
    torch = torch_or_skip()
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)      # a zip holding data.pkl
    with pytest.raises(ValueError, match="is not a NumPy array .*torch"):
        tg.load(path)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    tg.save(_model().state_dict(), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 5, 10):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"m\.npz' is truncated or corrupt"):
            tg.load(path)


def test_not_a_checkpoint_messages(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="is not an .npz checkpoint: it is not a zip archive"):
        tg.load(tmp_path / "text.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="the file is empty"):
        tg.load(tmp_path / "empty.npz")
    np.save(tmp_path / "one.npy", np.ones(2))
    with pytest.raises(ValueError, match="a single .npy array"):
        tg.load(tmp_path / "one.npy")
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.npz")


def test_metadata_naming_a_missing_array(tmp_path):
    path = tmp_path / "m.npz"
    tg.save({"w": tg.ones(2), "b": tg.ones(1)}, path)
    with np.load(path) as z:
        kept = {k: z[k] for k in z.files if k != "b"}
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in kept.items():
            with zf.open(k + ".npy", "w") as fh:
                np.lib.format.write_array(fh, v)
    with pytest.raises(ValueError, match="names array 'b', which is missing"):
        tg.load(path)


def test_save_refuses_unknown_objects(tmp_path):
    with pytest.raises(TypeError, match=r"can't store object at 'a\.x'"):
        tg.save({"a": {"x": object()}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"dict key \(1, 2\) at '<root>' has type tuple"):
        tg.save({(1, 2): tg.ones(1)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="array 'w' has dtype object"):
        serialization.write_npz(tmp_path / "x.npz", {"w": np.array([None])})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="weights_only=False would mean unpickling"):
        tg.load(tmp_path / "x.npz", weights_only=False)


def test_wrong_keys_and_shapes_name_the_key(tmp_path):
    path = tmp_path / "m.npz"
    tg.save(nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: shape \(2, 3\) in the "
                                           r"state dict, but the model expects \(4, 3\)"):
        nn.Linear(3, 4).load_state_dict(tg.load(path))
    with pytest.raises(RuntimeError, match=r"for Sequential:\n\tMissing key\(s\) in state_dict: "
                                           r"\['0.weight', '0.bias'\]\n\tUnexpected key\(s\) "
                                           r"in state_dict: \['weight', 'bias'\]"):
        nn.Sequential(nn.Linear(3, 2)).load_state_dict(tg.load(path))
    result = nn.Sequential(nn.Linear(3, 2)).load_state_dict(tg.load(path), strict=False)
    assert result.missing_keys == ["0.weight", "0.bias"]
    assert result.unexpected_keys == ["weight", "bias"]


def test_a_bad_state_dict_loads_nothing(tmp_path):
    """Every problem is reported at once, and no parameter is touched before the error
    (PyTorch copies the keys that fit, then raises)."""
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    bad = {k: tg.ones(*v.shape) for k, v in model.state_dict().items()}
    bad["1.bias"] = tg.ones(5)
    with pytest.raises(RuntimeError, match=r"size mismatch for 1.bias: shape \(5,\)"):
        model.load_state_dict(bad)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def _write(path, arrays):
    serialization.write_npz(path, arrays)


def _meta(obj) -> np.ndarray:
    import json
    return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)


def test_crafted_metadata_is_refused_with_reasons(tmp_path):
    path = tmp_path / "m.npz"
    good_root = {"dict": [["w", {"tensor": "w"}]]}
    fmt = "tinygrad_edu.checkpoint"
    cases = [
        ({"__tg_meta__": np.frombuffer(b"\xff\xfe{", dtype=np.uint8)},
         "'__tg_meta__' entry is not valid UTF-8 JSON"),
        ({"__tg_meta__": _meta({"format": "other", "root": good_root})},
         "is not tinygrad_edu checkpoint metadata"),
        ({"__tg_meta__": _meta({"format": fmt, "version": 99, "root": good_root}),
          "w": np.ones(1)}, "written by a newer format"),
        ({"__tg_meta__": _meta({"format": fmt, "version": 1, "root": good_root}),
          "w": np.ones(1), "stowaway": np.ones(1)}, r"arrays \['stowaway'\] are not described"),
        ({"__tg_meta__": _meta({"format": fmt, "version": 1, "root": {"code": "print(1)"}})},
         "unknown metadata node kind 'code'"),
        ({"__tg_meta__": _meta({"format": fmt, "version": 1, "root": [1, 2]})},
         "malformed metadata node"),
    ]
    for arrays, message in cases:
        _write(path, arrays)
        with pytest.raises(ValueError, match=message):
            tg.load(path)


def test_non_numeric_entry_is_refused(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, name=np.array(["text"]))      # a unicode array needs no pickle
    with pytest.raises(ValueError, match="entry 'name' has dtype <U4; only numeric and bool"):
        tg.load(path)


def test_resume_training_from_checkpoint_is_exact(tmp_path):
    """Model + Adam state saved mid-run, loaded into fresh objects: the next steps equal an
    uninterrupted run's bit for bit."""
    from tinygrad_edu import optim
    rng = np.random.default_rng(0)
    batches = [(tg.tensor(rng.standard_normal((4, 3)).astype(np.float32)),
                tg.tensor(rng.integers(0, 2, 4))) for _ in range(4)]

    def build():
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2))
        return model, optim.Adam(model.parameters(), lr=0.01)

    def step(model, opt, batch):
        opt.zero_grad()
        tg.functional.cross_entropy(model(batch[0]), batch[1]).backward()
        opt.step()

    model, opt = build()
    for b in batches:
        step(model, opt, b)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model, opt = build()
    for b in batches[:2]:
        step(model, opt, b)
    tg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 2},
            tmp_path / "run.npz")
    model, opt = build()
    ckpt = tg.load(tmp_path / "run.npz")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optim"])
    assert ckpt["epoch"] == 2
    for b in batches[2:]:
        step(model, opt, b)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)
