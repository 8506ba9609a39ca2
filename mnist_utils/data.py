"""Loading MNIST / Fashion-MNIST, the train/validation split and the tf.data pipelines.

Data flows one way: ``load_data`` -> ``split_train_val`` -> ``make_dataset``.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import config

DATASETS = ("mnist", "fashion_mnist")
# The folder each dataset has inside a data directory (the layout of ../shared/data).
FOLDER_NAMES = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}

CLASS_NAMES = {
    "mnist": [str(digit) for digit in range(10)],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
EXPECTED_COUNTS = {"x_train": 60000, "y_train": 60000, "x_test": 10000, "y_test": 10000}

# SHA-256 of the decompressed, published files (see ../shared/data/README.md).
CHECKSUMS = {
    "mnist": {
        "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "y_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "y_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataError(RuntimeError):
    """A dataset file is missing, damaged or not what it should be."""


def dataset_key(name: str) -> str:
    """The series' spelling of a dataset's name ("Fashion-MNIST" -> "fashion_mnist"), which names its
    checkpoint and results folders; a name that is not one of its datasets is returned as it is."""
    key = name.lower().replace("-", "_")
    return key if key in DATASETS else name


def _check_name(name: str) -> str:
    key = dataset_key(name)
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")
    return key


def _hint(name: str) -> str:
    return (
        f"Download the four IDX files of {name} again (or copy them from a machine that has them), "
        f"then pass load_data({name!r}, data_dir=...) or set {config.DATA_DIR_ENV}."
    )


def read_idx(
    path: str | Path, expected_checksum: str | None = None, expected_magic: int | None = None
) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into a uint8 array, checking its header and size.

    ``expected_magic`` (2051 images, 2049 labels) and ``expected_checksum`` (SHA-256 of the
    decompressed bytes) are checked when given.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        elif path.suffix == ".gz":
            raise DataError(f"{path.name} is named .gz but is not a gzip file.")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # truncated or corrupt gzip stream
        raise DataError(f"Cannot read {path.name}: {exc}.") from exc
    if len(raw) < 8:
        raise DataError(f"{path.name} is too short ({len(raw)} bytes) to be an IDX file.")
    magic, count = struct.unpack(">II", raw[:8])
    if expected_magic is not None and magic != expected_magic:
        kinds = {IMAGE_MAGIC: "an image", LABEL_MAGIC: "a label"}
        raise DataError(
            f"{path.name} has magic number {magic}, but {kinds.get(expected_magic, 'an IDX')} file "
            f"has {expected_magic}: it is not the file its name says."
        )
    if magic == IMAGE_MAGIC:
        if len(raw) < 16:
            raise DataError(f"{path.name}: IDX image header is truncated.")
        rows, cols = struct.unpack(">II", raw[8:16])
        shape, offset = (count, rows, cols), 16
    elif magic == LABEL_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(
            f"{path.name} is not an IDX image or label file "
            f"(magic number {magic}, expected {IMAGE_MAGIC} or {LABEL_MAGIC})."
        )
    expected_size = offset + int(np.prod(shape))
    if len(raw) != expected_size:
        raise DataError(
            f"{path.name} holds {len(raw)} bytes but its header announces {expected_size}: "
            "the file is truncated or damaged."
        )
    if expected_checksum is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_checksum:
            raise DataError(
                f"{path.name} does not match the published file (SHA-256 {digest[:12]}..., "
                f"expected {expected_checksum[:12]}...). Pass verify=False to accept a non-standard copy."
            )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def _find_idx(folder: Path, base: str) -> Path | None:
    for candidate in (folder / f"{base}.gz", folder / base):
        if candidate.is_file():
            return candidate
    return None


def _dataset_folder(data_dir: Path, name: str) -> Path | None:
    """The folder holding the IDX files: ``data_dir`` itself or its ``mnist/`` / ``fashion-mnist/``."""
    for folder in (data_dir / FOLDER_NAMES[name], data_dir / name, data_dir):
        if any(_find_idx(folder, base) for base in IDX_FILES.values()):
            return folder
    return None


def validate(arrays: Arrays, name: str = "dataset") -> Arrays:
    """Check shapes, counts, dtype and labels 0-9; return the arrays unchanged."""
    (x_train, y_train), (x_test, y_test) = arrays
    found = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for key, array in found.items():
        if array.dtype != np.uint8:
            raise DataError(f"{name} {key}: dtype {array.dtype}, expected uint8.")
        expected = (EXPECTED_COUNTS[key], 28, 28) if key.startswith("x") else (EXPECTED_COUNTS[key],)
        if array.shape != expected:
            raise DataError(f"{name} {key}: shape {array.shape}, expected {expected}.")
    for key in ("y_train", "y_test"):
        if found[key].max() > 9:
            raise DataError(f"{name} {key}: label {found[key].max()} outside 0-9.")
    return arrays


def load_from_dir(name: str, data_dir: str | Path, verify: bool = True) -> Arrays:
    """Read the four IDX files of ``name`` from a local folder and validate them."""
    name = _check_name(name)
    data_dir = Path(data_dir).expanduser()
    folder = _dataset_folder(data_dir, name) if data_dir.is_dir() else None
    expected = ", ".join(f"{base}[.gz]" for base in IDX_FILES.values())
    if folder is None:
        raise DataError(
            f"{name} not found in {data_dir}: expected the files {expected} there or in its "
            f"{FOLDER_NAMES[name]}/ subfolder. Pass data_dir=... or set {config.DATA_DIR_ENV}."
        )
    arrays = {}
    for key, base in IDX_FILES.items():
        path = _find_idx(folder, base)
        if path is None:
            raise DataError(f"{name}: {base}[.gz] is missing from {folder} (expected {expected}). {_hint(name)}")
        try:
            magic = IMAGE_MAGIC if key.startswith("x") else LABEL_MAGIC
            arrays[key] = read_idx(path, CHECKSUMS[name][key] if verify else None, magic)
        except DataError as exc:
            raise DataError(f"{name}: {exc} {_hint(name)}") from exc
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        if len(arrays[x_key]) != len(arrays[y_key]):
            raise DataError(
                f"{name}: {IDX_FILES[x_key]} has {len(arrays[x_key])} images but "
                f"{IDX_FILES[y_key]} has {len(arrays[y_key])} labels. {_hint(name)}"
            )
    result = ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
    return validate(result, name)


def idx_checksum(array: np.ndarray) -> str:
    """SHA-256 of the IDX file that holds ``array`` (uint8 images (N, 28, 28) or labels (N,)): the
    checksum of the published, decompressed file it was read from."""
    header = struct.pack(">IIII", IMAGE_MAGIC, *array.shape) if array.ndim == 3 else struct.pack(">II", LABEL_MAGIC, len(array))
    return hashlib.sha256(header + np.ascontiguousarray(array).tobytes()).hexdigest()


def verify_arrays(arrays: Arrays, name: str) -> Arrays:
    """Check arrays (from any source) against the published files' checksums; return them unchanged."""
    (x_train, y_train), (x_test, y_test) = arrays
    for key, array in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test)):
        digest = idx_checksum(array)
        if digest != CHECKSUMS[name][key]:
            raise DataError(
                f"{name} {key} from the Keras cache does not match the published {IDX_FILES[key]} (SHA-256 "
                f"{digest[:12]}..., expected {CHECKSUMS[name][key][:12]}...). Delete the file in ~/.keras/datasets "
                "to download it again, or pass verify=False to accept a non-standard copy."
            )
    return arrays


def _load_with_keras(name: str, verify: bool = True) -> Arrays:
    """Keras' own loader: its cache (``~/.keras/datasets``) first, then the download."""
    import keras

    loader = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    try:
        arrays = loader.load_data()
    except Exception as exc:  # Keras raises a bare Exception for a failed download
        raise DataError(
            f"{name} is not in the Keras cache and could not be downloaded ({exc}). "
            f"Offline, give a local copy of the four IDX files: load_data({name!r}, data_dir=...) "
            f"or set {config.DATA_DIR_ENV}=/path/to/folder."
        ) from exc
    arrays = validate(arrays, name)
    return verify_arrays(arrays, name) if verify else arrays


def load_data(name: str = "mnist", data_dir: str | Path | None = None, verify: bool = True) -> Arrays:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, like ``keras.datasets``.

    Sources, in order: ``data_dir``, the ``MNIST_DATA_DIR`` variable, the Keras cache,
    the Keras download. ``verify`` checks what was read, from any source, against the published
    files' SHA-256 checksums.
    """
    name = _check_name(name)
    local = Path(data_dir) if data_dir is not None else config.current().data_dir
    if local is not None:
        return load_from_dir(name, local, verify=verify)
    return _load_with_keras(name, verify=verify)


def split_train_val(
    x: np.ndarray, y: np.ndarray, val_fraction: float = 0.15, seed: int = 42
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Shuffle once with ``seed`` and cut into disjoint train and validation sets."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie between 0 and 1, got {val_fraction}.")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(round(len(x) * (1 - val_fraction)))
    train, val = order[:n_train], order[n_train:]
    return (x[train], y[train]), (x[val], y[val])


IMAGES_WANTED = ("Pass uint8 images (0-255) or float images (0-1), finite, of shape (N, 28, 28) or "
                 "(N, 28, 28, 1).")
# Resampling (shifts, zooms) can leave float pixels a rounding error outside 0-1: that much is clipped.
FLOAT_SLACK = 1e-3


def to_float(images: np.ndarray) -> np.ndarray:
    """Images -> float32 in [0, 1] with a channel axis (N, H, W, 1 or C).

    Takes uint8 (or whole numbers in 0-255) or floats in 0-1, of shape (N, H, W) or (N, H, W, C).
    Anything else (strings, NaN, floats in 0-255, negative values) is a ValueError that says what
    was passed and what to pass: a model trained on 0-1 would answer such images without a word.
    """
    array = np.asarray(images)
    if array.dtype.kind not in "uif":
        raise ValueError(f"Images must be numbers, got an array of {array.dtype}. {IMAGES_WANTED}")
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4:
        raise ValueError(f"Expected images of shape (N, H, W) or (N, H, W, C), got {array.shape}. {IMAGES_WANTED}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.size == 0:
        return array.astype(np.float32)
    low, high = array.min(), array.max()
    if array.dtype.kind in "ui":
        if low < 0 or high > 255:
            raise ValueError(f"Whole-number images must lie in 0-255, these lie in {low}..{high}. {IMAGES_WANTED}")
        return array.astype(np.float32) / 255.0
    if not np.isfinite(low) or not np.isfinite(high):
        raise ValueError(f"The images hold NaN or infinite values. {IMAGES_WANTED}")
    if low < -FLOAT_SLACK or high > 1 + FLOAT_SLACK:
        hint = " (0-255 images: divide them by 255, or pass them as uint8)" if high <= 255 and low >= 0 else ""
        raise ValueError(f"Float images must lie in 0-1, these lie in {low:g}..{high:g}{hint}. {IMAGES_WANTED}")
    array = array.astype(np.float32, copy=False)
    return np.clip(array, 0.0, 1.0) if low < 0 or high > 1 else array


@dataclass(frozen=True)
class PipelineSpec:
    """How ``make_dataset`` made a pipeline: what ``train`` records, and how it makes the same batches again."""

    examples: int
    content: str  # a hash of the images and labels, as the pipeline holds them
    batch_size: int
    shuffle: bool
    seed: int | None  # the shuffling's seed (None without shuffling)

    def describe(self) -> dict[str, object]:
        """The spec as plain JSON values, for a run's record."""
        return {"examples": self.examples, "content": self.content, "batch_size": self.batch_size,
                "shuffle": self.shuffle, "shuffle_seed": self.seed}


def content_hash(images: np.ndarray, labels: np.ndarray) -> str:
    """A short hash of images and labels: the same arrays, in the same order, give the same hash."""
    digest = hashlib.blake2b(digest_size=8)
    for array in (images, labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def pipeline_spec(dataset: tf.data.Dataset) -> PipelineSpec | None:
    """The spec of a pipeline that ``make_dataset`` made (None for any other)."""
    return getattr(dataset, SPEC_ATTRIBUTE, None)


def fresh_copy(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The same pipeline made anew: its first epoch's batches are those a fresh ``make_dataset`` gives,
    however often ``dataset`` was read before (every reading of a shuffling pipeline reshuffles it)."""
    images, labels = getattr(dataset, SOURCE_ATTRIBUTE)
    spec = pipeline_spec(dataset)
    return _pipeline(images, labels, spec)


SPEC_ATTRIBUTE, SOURCE_ATTRIBUTE = "mnist_utils_spec", "mnist_utils_source"


def _pipeline(images: np.ndarray, labels: np.ndarray, spec: PipelineSpec) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
    if spec.shuffle:
        dataset = dataset.shuffle(len(images), seed=spec.seed, reshuffle_each_iteration=True)
    # tf.data's autotuner is off: this pipeline has nothing to tune (no map), and on 2 cores its
    # background work made 11 of 36 LeNet epochs take 5.1 s instead of 3.5 s (none of 36 without
    # it). The batches and their order do not change.
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = dataset.batch(spec.batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)
    setattr(dataset, SPEC_ATTRIBUTE, spec)
    setattr(dataset, SOURCE_ATTRIBUTE, (images, labels))
    return dataset


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 42,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline: normalized float32 images with a channel axis, cached,
    reshuffled every epoch with ``seed`` if ``shuffle``, batched and prefetched.

    The pipeline carries how it was made (``pipeline_spec``), so that ``train`` can record it and
    start from the same batches every time. In smoke mode only the first few thousand examples are kept.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}.")
    keep = config.smoke_cut(len(x))
    images, labels = to_float(x[:keep]), np.asarray(y[:keep]).astype(np.int32)
    spec = PipelineSpec(len(images), content_hash(images, labels), int(batch_size), bool(shuffle),
                        int(seed) if shuffle else None)
    return _pipeline(images, labels, spec)


def make_datasets(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    test: tuple[np.ndarray, np.ndarray],
    batch_size: int = 32,
    eval_batch_size: int = 1024,
    seed: int = 42,
) -> dict[str, object]:
    """The series' pipelines: ``train`` (shuffled every epoch, ``batch_size``), and
    ``train_eval``, ``val``, ``test`` in order with large batches for fast evaluation
    (no ``val`` with ``val=None``: training on every image once the choices are made)."""
    train = (to_float(train[0]), train[1])  # scaled once, shared by both training pipelines
    datasets = {
        "train": make_dataset(*train, batch_size=batch_size, shuffle=True, seed=seed),
        "train_eval": make_dataset(*train, batch_size=eval_batch_size),
        "val": None if val is None else make_dataset(*val, batch_size=eval_batch_size),
        "test": make_dataset(*test, batch_size=eval_batch_size),
    }
    return {key: dataset for key, dataset in datasets.items() if dataset is not None}
