"""What a notebook shows with show_source runs on its own, as a reader would copy it into a fresh notebook."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import mnist_utils as mu
from mnist_utils.recipe import describe_model


def run_alone(*functions):
    """The shown code executed in an empty namespace (nothing of the package imported)."""
    namespace: dict = {}
    exec(compile(mu.source.complete_source(*functions), "<shown>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("builder, arguments", [
    (mu.get_mlp, {}), (mu.get_lenet, {}),
    (mu.get_custom_cnn, {"steps_per_epoch": 10, "epochs": 2}),
    (mu.get_custom_cnn, {"augment": "flips", "strided": False, "steps_per_epoch": 10, "epochs": 2}),
    (mu.get_resnet, {"steps_per_epoch": 10, "epochs": 2, "blocks_per_stage": 1, "label_smoothing": 0.1,
                     "augment": ("crops", "flips", "erasing")}),
])
def test_a_shown_builder_builds_the_same_model_on_its_own(builder, arguments):
    keras.utils.set_random_seed(0)  # the random layers draw their seeds when built
    copied = run_alone(builder)[builder.__name__](**arguments)
    keras.utils.set_random_seed(0)
    original = builder(**arguments)
    assert describe_model(copied) == describe_model(original)
    assert mu.get_weight_num(copied) == mu.get_weight_num(original)
    assert keras.losses.serialize(copied.loss)["config"] == keras.losses.serialize(original.loss)["config"]


def test_shown_code_lists_its_imports_and_helpers_once_before_use():
    text = mu.source.complete_source(mu.get_custom_cnn)
    assert text.startswith("import keras\nfrom keras import layers\n")
    assert text.count("def conv_block(") == 1 and text.index("def conv_block(") < text.index("def get_custom_cnn(")
    assert "NUM_CLASSES = 10" in text and "from mnist_utils" not in text


def test_shown_image_preparation_prepares_as_the_package_does():
    picture = np.full((60, 40), 255, np.uint8)
    picture[10:40, 15:22] = 0  # a dark bar on white paper
    np.testing.assert_array_equal(run_alone(mu.prepare_image)["prepare_image"](picture), mu.prepare_image(picture))
