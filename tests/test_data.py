"""The loader on real files, on broken copies of them and on tiny IDX files built here."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

from conftest import use_mode
from mnist_utils import DataError, load_data, make_dataset, split_train_val
from mnist_utils import data as data_module

# Published label counts (../shared/data/README.md and the datasets' own documentation).
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def write_idx(path, array, magic=None, compress=True):
    """Write ``array`` as an IDX file, as the datasets' authors did."""
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else (2051 if array.ndim == 3 else 2049)
    header = struct.pack(">II", magic, array.shape[0]) + b"".join(struct.pack(">I", d) for d in array.shape[1:])
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def copy_dataset(data_dir, name, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(data_dir / name, folder)
    return folder


# --- read_idx on tiny files -----------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_roundtrip(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("x.gz" if compress else "x"), images, compress=compress)
    np.testing.assert_array_equal(data_module.read_idx(path), images)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    np.testing.assert_array_equal(data_module.read_idx(write_idx(tmp_path / "y.gz", labels)), labels)


def test_read_idx_rejects_unknown_magic(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((2, 2, 2)), magic=1234)
    with pytest.raises(DataError, match=r"x\.gz.*magic number 1234"):
        data_module.read_idx(path)


def test_read_idx_rejects_truncated_data(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.zeros((5, 4, 4)), compress=False)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match="truncated"):
        data_module.read_idx(path)


def test_read_idx_rejects_fake_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match="not a gzip file"):
        data_module.read_idx(path)


def test_read_idx_checks_checksum_and_kind(tmp_path):
    path = write_idx(tmp_path / "y.gz", np.array([1, 2, 3]))
    with pytest.raises(DataError, match="does not match the published file"):
        data_module.read_idx(path, expected_checksum="0" * 64)
    with pytest.raises(DataError, match="not the file its name says"):
        data_module.read_idx(path, expected_magic=2051)


# --- the real files -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_real_datasets_load_and_verify(data_dir, name):
    (x_train, y_train), (x_test, y_test) = load_data(name, data_dir)  # checksums verified inside
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert 0 < x_train.mean() < 255
    if name == "mnist":
        assert np.bincount(y_test).tolist() == MNIST_TEST_COUNTS
        assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    else:
        assert np.bincount(y_test).tolist() == [1000] * 10
        assert np.bincount(y_train).tolist() == [6000] * 10


def test_dataset_folder_and_env_variable(data_dir, monkeypatch, isolated_outputs):
    direct = load_data("fashion_mnist", data_dir / "fashion-mnist")
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    use_mode(isolated_outputs, "reader")  # setup reads the variable
    from_env = load_data("fashion-mnist")
    np.testing.assert_array_equal(direct[1][1], from_env[1][1])


def test_uncompressed_copy_loads(data_dir, tmp_path):
    folder = copy_dataset(data_dir, "mnist", tmp_path)
    gz = folder / "t10k-labels-idx1-ubyte.gz"
    (folder / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    assert load_data("mnist", folder)[1][1].shape == (10000,)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", r"t10k-images-idx3-ubyte\[\.gz\] is missing"),
        ("truncated_gzip", r"t10k-images-idx3-ubyte\.gz"),
        ("not_gzip", r"t10k-images-idx3-ubyte\.gz is named \.gz but is not a gzip file"),
        ("wrong_file", r"t10k-images-idx3-ubyte\.gz has magic number 2049"),
        ("altered", r"t10k-images-idx3-ubyte\.gz does not match the published file"),
    ],
)
def test_broken_copies_name_the_file(data_dir, tmp_path, damage, message):
    folder = copy_dataset(data_dir, "mnist", tmp_path)
    target = folder / "t10k-images-idx3-ubyte.gz"
    if damage == "missing":
        target.unlink()
    elif damage == "truncated_gzip":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "not_gzip":
        target.write_bytes(b"<html>404 Not Found</html>")
    elif damage == "wrong_file":
        shutil.copy(folder / "t10k-labels-idx1-ubyte.gz", target)
    elif damage == "altered":
        raw = bytearray(gzip.decompress(target.read_bytes()))
        raw[5000] ^= 0xFF
        target.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match=message) as info:
        load_data("mnist", folder)
    assert "MNIST_DATA_DIR" in str(info.value)  # says what to do


def test_altered_copy_loads_without_verification(data_dir, tmp_path):
    folder = copy_dataset(data_dir, "mnist", tmp_path)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[-1] = 0
    target.write_bytes(gzip.compress(bytes(raw)))
    assert load_data("mnist", folder, verify=False)[1][1][-1] == 0


def test_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"mnist not found in .*MNIST_DATA_DIR"):
        load_data("mnist", tmp_path)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar10'"):
        load_data("cifar10")


def test_offline_without_local_copy_says_how_to_give_one(monkeypatch, isolated_outputs):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    use_mode(isolated_outputs, "reader")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match=r"could not be downloaded.*data_dir=.*MNIST_DATA_DIR"):
        load_data("mnist")


def test_keras_cache_is_used_and_validated(monkeypatch, data_dir, isolated_outputs):
    import keras

    real = load_data("fashion_mnist", data_dir)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    use_mode(isolated_outputs, "reader")
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: real)
    assert load_data("fashion_mnist")[0][0].shape == (60000, 28, 28)  # the published files: they pass
    altered = ((real[0][0], real[0][1]), (real[1][0].copy(), real[1][1]))
    altered[1][0][0, 0, 0] = 1  # one pixel of one test image
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: altered)
    with pytest.raises(DataError, match="x_test from the Keras cache does not match the published t10k-images"):
        load_data("fashion_mnist")
    assert load_data("fashion_mnist", verify=False)[1][0][0, 0, 0] == 1
    good = ((np.zeros((60000, 28, 28), np.uint8), np.zeros(60000, np.uint8)),
            (np.zeros((10000, 28, 28), np.uint8), np.zeros(10000, np.uint8)))
    bad = ((good[0][0][:100], good[0][1][:100]), good[1])
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: bad)
    with pytest.raises(DataError, match=r"x_train: shape \(100, 28, 28\)"):
        load_data("fashion_mnist")


# --- split and pipelines ----------------------------------------------------------------

def test_split_is_disjoint_complete_and_seeded():
    x = np.arange(1000).reshape(1000, 1, 1).astype(np.uint8) * 0 + np.arange(1000).reshape(1000, 1, 1) % 256
    ids = np.arange(1000)
    (tr, ytr), (va, yva) = split_train_val(x, ids, val_fraction=0.15, seed=1)
    assert len(ytr) == 850 and len(yva) == 150
    assert not set(ytr) & set(yva) and set(ytr) | set(yva) == set(ids)
    assert (split_train_val(x, ids, seed=1)[1][1] == yva).all()
    assert not (split_train_val(x, ids, seed=2)[1][1] == yva).all()
    np.testing.assert_array_equal(tr[:, 0, 0], x[ytr, 0, 0])


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        split_train_val(np.zeros((10, 2, 2)), np.zeros(10), val_fraction=fraction)


def test_make_dataset_normalizes_batches_and_shuffles_each_epoch():
    x = np.repeat(np.arange(100, dtype=np.uint8)[:, None, None], 28 * 28, axis=1).reshape(100, 28, 28) * 2
    y = np.arange(100) % 10
    dataset = make_dataset(x, y, batch_size=32, shuffle=True, seed=0)
    first = list(dataset.as_numpy_iterator())
    images, labels = first[0]
    assert images.shape == (32, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert [len(b[1]) for b in first] == [32, 32, 32, 4]
    order1 = np.concatenate([b[1] for b in first])
    order2 = np.concatenate([b[1] for b in dataset.as_numpy_iterator()])
    assert sorted(order1) == sorted(y) and not (order1 == order2).all()
    np.testing.assert_allclose(images[:, 0, 0, 0] * 255 / 2 % 10, labels, atol=1e-3)


def test_make_dataset_leaves_the_autotuner_off():
    # On 2 cores tf.data's autotuner slowed some epochs by half (see make_dataset); nothing to tune here.
    dataset = make_dataset(np.zeros((10, 28, 28), np.uint8), np.zeros(10), shuffle=True)
    assert dataset.options().autotune.enabled is False


def test_make_dataset_is_cut_in_smoke_mode(isolated_outputs):
    use_mode(isolated_outputs, "smoke")
    x, y = np.zeros((5000, 28, 28), np.uint8), np.zeros(5000)
    count = sum(len(b[1]) for b in make_dataset(x, y, batch_size=500).as_numpy_iterator())
    assert count < 5000


def test_make_dataset_rejects_mismatched_or_bad_shapes():
    with pytest.raises(ValueError, match="x has 3 examples but y has 2"):
        make_dataset(np.zeros((3, 28, 28), np.uint8), np.zeros(2))
    with pytest.raises(ValueError, match="Expected images of shape"):
        make_dataset(np.zeros((3, 28), np.uint8), np.zeros(3))
