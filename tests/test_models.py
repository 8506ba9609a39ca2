"""The post's models: architecture, weight counts worked out from the layer sizes, compiled."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_utils import get_lenet, get_mlp, get_weight_num


def dense(n_in, n_out):
    return n_in * n_out + n_out


def conv(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


@pytest.mark.parametrize(
    "builder, name, weights",
    [
        (get_mlp, "mlp", dense(28 * 28, 128) + dense(128, 10)),
        # 28x28 -same conv-> 28 -pool-> 14 -valid 5x5-> 10 -pool-> 5: 5*5*16 features.
        (get_lenet, "lenet", conv(5, 1, 6) + conv(5, 6, 16) + dense(5 * 5 * 16, 120)
         + dense(120, 84) + dense(84, 10)),
    ],
)
def test_builders(builder, name, weights):
    model = builder()
    assert model.name == name
    assert get_weight_num(model) == weights
    assert model.output_shape == (None, 10)
    probs = model.predict(np.zeros((3, 28, 28, 1), np.float32), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # softmax output
    assert model.optimizer is not None and model.loss is not None


def test_fast_cnn_weights_and_one_cycle_schedule():
    from mnist_utils import get_fast_cnn

    model = get_fast_cnn(steps_per_epoch=100, epochs=5, max_learning_rate=5e-3)
    batch_norm = 2 * 8 + 2 * 16  # trainable gamma and beta; the convolutions have no bias
    expected = 5 * 5 * 1 * 8 + 5 * 5 * 8 * 16 + batch_norm + dense(5 * 5 * 16, 128) + dense(128, 10)
    assert model.name == "fast_cnn" and get_weight_num(model) == expected
    schedule = model.optimizer._learning_rate  # the schedule object itself (Keras keeps no public handle)
    assert float(schedule(0)) == pytest.approx(5e-4)
    assert float(schedule(50)) == pytest.approx(5e-3)  # peak after half an epoch of warm-up
    assert float(schedule(500)) == pytest.approx(0.0, abs=1e-7)  # decayed to zero at the end
