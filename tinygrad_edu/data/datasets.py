"""Loaders for the real datasets shipped in the repository's ``data/`` folder.

Every dataset a lesson uses lives on disk next to the code, so nothing needs the network.
Each loader

1. finds the data folder (:func:`data_dir`),
2. checks the file's SHA-256 against ``data/SHA256SUMS`` (:func:`verify`), so a truncated
   or edited file fails loudly instead of silently training on garbage, and
3. parses the file into plain numpy arrays or Python objects.

Quick tour::

    >>> from tinygrad_edu.data.datasets import load_mnist, load_shakespeare
    >>> x, y = load_mnist("test")
    >>> x.shape, x.dtype, y[:5]
    ((10000, 28, 28), dtype('uint8'), array([7, 2, 1, 0, 4]))
    >>> load_shakespeare()[:14]
    'First Citizen:'

See ``data/README.md`` for provenance, licenses and citations of every dataset.
numpy appears here only as a file reader: loaders return plain arrays that you turn into
tensors yourself.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = [
    "data_dir",
    "verify",
    "load_idx",
    "load_mnist",
    "load_fashion_mnist",
    "load_digits",
    "load_mnist1d",
    "load_shakespeare",
    "load_sentiment",
    "FASHION_MNIST_CLASSES",
    "SENTIMENT_SOURCES",
]

ENV_VAR = "TINYGRAD_EDU_DATA"

#: Class names of Fashion-MNIST, indexed by label.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: The three review sites of the sentiment dataset, in file order.
SENTIMENT_SOURCES: tuple[str, ...] = ("amazon_cells", "imdb", "yelp")

# (resolved path, mtime_ns, size) -> hex digest that matched SHA256SUMS
_VERIFIED: dict[tuple[str, int, int], str] = {}


# --------------------------------------------------------------------------------------
# locating and checking files
# --------------------------------------------------------------------------------------

def data_dir() -> Path:
    """Return the folder that holds the datasets.

    Looks at the environment variable ``TINYGRAD_EDU_DATA`` first (handy to keep data
    elsewhere, or to point tests at a scratch copy); otherwise uses the repository's own
    ``data/`` folder, two levels above this package (the package is installed in
    editable mode, so the repo is right there).

    Example::

        >>> data_dir().name
        'data'

    Raises:
        FileNotFoundError: if the folder does not exist, saying where it looked and how
            to fix it.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(
                f"{ENV_VAR}={env!r} does not point to an existing folder; set it to a folder "
                "laid out like the repository's data/ (with SHA256SUMS), or unset it"
            )
        return path
    path = Path(__file__).resolve().parents[2] / "data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"dataset folder not found at {path}; tinygrad_edu expects the repository's data/ "
            f"folder (install the package editable with `pip install -e .` from a checkout), "
            f"or set {ENV_VAR} to a folder holding the datasets"
        )
    return path


def _read_sums(root: Path) -> dict[str, str]:
    sums_file = root / "SHA256SUMS"
    if not sums_file.is_file():
        raise FileNotFoundError(f"{sums_file} is missing; cannot verify dataset files")
    sums: dict[str, str] = {}
    for line in sums_file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        digest, _, name = line.partition(" ")
        sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(relpath: str) -> Path:
    """Check a dataset file against ``SHA256SUMS`` and return its absolute path.

    A SHA-256 hash is a 64-hex-digit fingerprint of a file's bytes: change one bit and the
    hash changes completely. ``data/SHA256SUMS`` lists the expected hash of every file
    (same format as the ``sha256sum`` tool), so comparing hashes proves the file is the
    exact one described in ``data/README.md``.

    Hashing 10 MB takes a few tens of milliseconds, so results are cached per process,
    keyed by (path, modification time, size): loading MNIST twice hashes it once, while
    editing the file forces a fresh check.

    Args:
        relpath: path relative to :func:`data_dir`, with ``/`` separators, e.g.
            ``"mnist/train-labels-idx1-ubyte.gz"``.

    Example::

        >>> verify("tinyshakespeare/input.txt").name
        'input.txt'

    Raises:
        FileNotFoundError: the file (or SHA256SUMS) is missing.
        KeyError: SHA256SUMS has no entry for ``relpath``.
        ValueError: the hash differs, e.g. ``"mnist/train-images-idx3-ubyte.gz: sha256
            mismatch: expected 440f..., got ab12... (file corrupt or modified?)"``.
    """
    root = data_dir()
    path = root / relpath
    if not path.is_file():
        raise FileNotFoundError(f"{relpath}: dataset file not found at {path}")
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key in _VERIFIED:
        return path
    sums = _read_sums(root)
    if relpath not in sums:
        raise KeyError(f"{relpath}: no entry in {root / 'SHA256SUMS'}")
    expected = sums[relpath]
    actual = _sha256(path)
    if actual != expected:
        raise ValueError(
            f"{relpath}: sha256 mismatch: expected {expected}, got {actual} "
            "(file corrupt or modified?)"
        )
    _VERIFIED[key] = actual
    return path


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed!r}, got {value!r}")


# --------------------------------------------------------------------------------------
# IDX (MNIST-style) files
# --------------------------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Parse an IDX file (optionally gzipped) into a numpy array.

    IDX is the tiny binary format MNIST is distributed in. All integers are big-endian:

    ========  ============================================================
    bytes     meaning
    ========  ============================================================
    0-1       always ``0x00 0x00``
    2         element type: ``0x08`` = uint8 (the only one MNIST uses)
    3         number of dimensions ``ndim`` (3 for images, 1 for labels)
    4..       ``ndim`` uint32 sizes, e.g. 60000, 28, 28
    then      the elements, row-major (C order)
    ========  ============================================================

    So the first 4 bytes ("magic number") of an image file are ``0x00000803``, and of a
    label file ``0x00000801``.

    Args:
        path: file path; ``.gz`` files are decompressed on the fly. No checksum check is
            done here (the ``load_*`` functions do that).

    Returns:
        array with the stored shape and dtype (uint8 for MNIST), in native byte order.

    Example::

        >>> load_idx(data_dir() / "mnist/t10k-labels-idx1-ubyte.gz")[:5]
        array([7, 2, 1, 0, 4], dtype=uint8)

    Raises:
        ValueError: bad magic number, unknown type code, or wrong data length.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except gzip.BadGzipFile as e:
        raise ValueError(f"{path.name}: not a valid gzip file ({e})") from e
    if len(data) < 4:
        raise ValueError(f"{path.name}: too short to be an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[0:4], "big")
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if magic >> 16 != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{path.name}: bad IDX magic number 0x{magic:08x}; expected 0x000008NN "
            "(e.g. 0x00000803 for images, 0x00000801 for labels). Is this an IDX file?"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path.name}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path.name}: IDX header says shape {shape} ({expected} bytes of data) but the "
            f"file has {len(data) - header} bytes of data"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _load_idx_pair(folder: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    img_rel = f"{folder}/{prefix}-images-idx3-ubyte.gz"
    lab_rel = f"{folder}/{prefix}-labels-idx1-ubyte.gz"
    images = load_idx(verify(img_rel))
    labels = load_idx(verify(lab_rel)).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{img_rel} / {lab_rel}: inconsistent shapes {images.shape} and {labels.shape}"
        )
    return images, labels


# --------------------------------------------------------------------------------------
# image datasets
# --------------------------------------------------------------------------------------

def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST: 28x28 grayscale photos of handwritten digits 0-9.

    The "hello world" of deep learning (LeCun et al. 1998). 60,000 training and 10,000 test
    images, each a 28x28 grid of bytes: 0 is background, 255 is full ink.

    Args:
        split: ``"train"`` (60000 images) or ``"test"`` (10000 images).

    Returns:
        ``(images, labels)``: ``images`` uint8 of shape (N, 28, 28), values 0..255;
        ``labels`` int64 of shape (N,), values 0..9.
        Scale to floats yourself, e.g. ``images.astype(np.float32) / 255``.

    Example::

        >>> x, y = load_mnist("train")
        >>> x.shape, y.shape, x.dtype, y.dtype
        ((60000, 28, 28), (60000,), dtype('uint8'), dtype('int64'))
        >>> int(y[0])
        5
    """
    _check_choice("split", split, ("train", "test"))
    return _load_idx_pair("mnist", "train" if split == "train" else "t10k")


def load_fashion_mnist(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (test split): 28x28 grayscale images of clothing.

    Same format as MNIST but harder: 10 classes of Zalando product photos, named in
    :data:`FASHION_MNIST_CLASSES` (0 T-shirt/top, 1 Trouser, ... 9 Ankle boot).
    Only the 10,000-image test split ships with the repository; the 60,000 training images
    (26 MB) were left out for size (see ``data/README.md`` for how to get them offline).

    Args:
        split: must be ``"test"``; ``"train"`` raises a ValueError explaining why.

    Returns:
        ``(images, labels)``: uint8 (10000, 28, 28) and int64 (10000,).

    Example::

        >>> x, y = load_fashion_mnist()
        >>> x.shape, FASHION_MNIST_CLASSES[int(y[0])]
        ((10000, 28, 28), 'Ankle boot')
    """
    if split == "train":
        raise ValueError(
            "split='train' is not available for Fashion-MNIST: only the test split (10000 "
            "images) ships in data/fashion_mnist/, because the train images (26 MB) exceed the "
            "repository's size budget. Use split='test', or see data/README.md for installing "
            "the full set offline (Debian package dataset-fashion-mnist)."
        )
    _check_choice("split", split, ("test",))
    return _load_idx_pair("fashion_mnist", "t10k")


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load the UCI 8x8 handwritten digits (the file behind scikit-learn's ``load_digits``).

    1797 tiny digit images. Each pixel counts how many "on" pixels fell in a 4x4 block of
    the original 32x32 bitmap, so values are integers 0..16 (not 0..255).
    Small enough to train an MLP on in well under a second.

    Returns:
        ``(images, labels)``: ``images`` float64 of shape (1797, 8, 8) with values 0..16;
        ``labels`` int64 of shape (1797,), values 0..9.

    Example::

        >>> x, y = load_digits()
        >>> x.shape, float(x.max()), int(y[0])
        ((1797, 8, 8), 16.0, 0)
    """
    path = verify("sklearn_digits/digits.csv.gz")
    with gzip.open(path, "rt", encoding="ascii") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise ValueError(f"sklearn_digits/digits.csv.gz: expected 65 columns, got {table.shape}")
    images = table[:, :64].reshape(-1, 8, 8)
    labels = table[:, 64].astype(np.int64)
    return images, labels


def load_mnist1d() -> dict[str, np.ndarray]:
    """Load MNIST-1D: 1-D signals of length 40 that encode the digits 0-9.

    Each sample is one of ten hand-designed 1-D "digit" templates, randomly padded,
    shifted, sheared, scaled and noised, then resampled to 40 points (Greydanus & Kobak).
    It is far smaller than MNIST yet harder for linear models, so it is a great playground
    for comparing MLPs, CNNs and RNNs on a laptop.

    Returns:
        dict of numpy arrays (loaded with ``allow_pickle=False``):

        * ``"x"`` float64 (4000, 40), ``"y"`` int64 (4000,) - training set
        * ``"x_test"`` float64 (1000, 40), ``"y_test"`` int64 (1000,) - test set
        * ``"t"`` float64 (40,) - the positions of the 40 samples
        * ``"templates_x"`` (10, 12), ``"templates_t"`` (12,), ``"templates_y"`` (10,)

    Example::

        >>> d = load_mnist1d()
        >>> d["x"].shape, d["y_test"].shape
        ((4000, 40), (1000,))
    """
    path = verify("mnist1d/mnist1d_data.npz")
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


# --------------------------------------------------------------------------------------
# text datasets
# --------------------------------------------------------------------------------------

def load_shakespeare() -> str:
    """Load "tiny shakespeare", the classic character-level language-modelling corpus.

    About 40,000 lines of Shakespeare's plays concatenated into one 1,115,394-character
    ASCII string with a 65-character vocabulary (newline, space, ``!$&',-.3:;?``, A-Z,
    a-z). Used by char-rnn and nanoGPT; a common split is the first 90% for training and
    the last 10% for validation.

    Returns:
        the whole text as one ``str``.

    Example::

        >>> text = load_shakespeare()
        >>> len(text), len(set(text))
        (1115394, 65)
        >>> text[:14]
        'First Citizen:'
    """
    path = verify("tinyshakespeare/input.txt")
    return path.read_text(encoding="utf-8")


def load_sentiment(
    sources: tuple[str, ...] | list[str] = SENTIMENT_SOURCES,
) -> list[tuple[str, int, str]]:
    """Load the UCI "Sentiment Labelled Sentences": short reviews labelled good or bad.

    1000 sentences from each of three sites (amazon_cells = Amazon phone reviews, imdb =
    movie reviews, yelp = restaurant reviews), half positive (label 1) and half negative
    (label 0). Each file line is ``sentence<TAB>label``. The parser splits on the *last*
    tab and strips the sentence, because imdb lines carry trailing spaces before the tab
    and some contain unbalanced quotes that trip up CSV readers.

    Args:
        sources: which sites to load, any non-empty subset of
            ``("amazon_cells", "imdb", "yelp")``, in the order you want the rows.

    Returns:
        list of ``(text, label, source)`` tuples, file order preserved; 3000 rows for the
        default sources, 1500 of them positive.

    Example::

        >>> rows = load_sentiment(("yelp",))
        >>> rows[0]
        ('Wow... Loved this place.', 1, 'yelp')
    """
    if isinstance(sources, str):
        raise ValueError(
            f"sources must be a tuple/list of names from {SENTIMENT_SOURCES!r}, got the "
            f"string {sources!r} (did you mean ({sources!r},)?)"
        )
    sources = tuple(sources)
    if not sources:
        raise ValueError(f"sources must not be empty; allowed: {SENTIMENT_SOURCES!r}")
    for src in sources:
        if src not in SENTIMENT_SOURCES:
            raise ValueError(
                f"sources contains {src!r}, which is not allowed; allowed: {SENTIMENT_SOURCES!r}"
            )
    rows: list[tuple[str, int, str]] = []
    for src in sources:
        rel = f"sentiment_labelled_sentences/{src}_labelled.txt"
        path = verify(rel)
        with open(path, encoding="utf-8", newline="") as f:
            for lineno, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                text, sep, label = line.rpartition("\t")
                if not sep or label.strip() not in ("0", "1"):
                    raise ValueError(f"{rel}:{lineno}: expected 'sentence<TAB>0|1', got {line!r}")
                rows.append((text.strip(), int(label), src))
    return rows
