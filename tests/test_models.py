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
