"""prepare_image: a picture of a digit made into an MNIST image (box 20x20, centre of mass at 14, 14)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_utils import prepare_image


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    weights = image / image.sum()
    index = np.arange(image.shape[0])
    return np.array([np.sum(weights.sum(axis=1) * index), np.sum(weights.sum(axis=0) * index)])


def box(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(image > 25)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_a_digit_is_scaled_into_20_pixels_and_centred_by_its_mass():
    paper = np.zeros((100, 80), np.uint8)
    paper[5:45, 60:70] = 255  # a tall bar in a corner: 40x10 pixels
    prepared = prepare_image(paper, invert=False)
    assert prepared.shape == (28, 28) and prepared.dtype == np.uint8 and prepared.max() == 255
    assert box(prepared) == (20, 5)  # the longer side is 20, the aspect kept
    np.testing.assert_allclose(centre_of_mass(prepared.astype(float)), [14, 14], atol=0.6)


def test_dark_ink_on_paper_is_inverted_and_colour_is_read_as_grey():
    ink = np.zeros((60, 60))
    ink[10:50, 25:35] = 1.0
    ink[10:20, 15:45] = 1.0  # a T
    mnist_style = prepare_image(ink)
    on_paper = prepare_image((255 * (1 - ink)).astype(np.uint8))  # black on white: the border says invert
    np.testing.assert_array_equal(on_paper, mnist_style)
    rgb = np.repeat((255 * (1 - ink)).astype(np.uint8)[..., None], 3, axis=2)
    np.testing.assert_array_equal(prepare_image(rgb), mnist_style)
    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[..., 3] = (255 * ink).astype(np.uint8)  # black strokes on a transparent sketchpad
    np.testing.assert_array_equal(prepare_image(rgba), mnist_style)


def test_what_cannot_be_read_says_so():
    with pytest.raises(ValueError, match="No digit found"):
        prepare_image(np.full((28, 28), 200, np.uint8))
    with pytest.raises(TypeError, match="A picture holds numbers"):
        prepare_image("digit.png")
    with pytest.raises(ValueError, match=r"got shape \(2, 28, 28\)"):
        prepare_image(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="too small"):
        prepare_image(np.zeros((1, 28)))
    with pytest.raises(ValueError, match="0..255"):
        prepare_image(np.full((28, 28), -3.0))


def test_mnists_own_digits_come_out_almost_as_they_went_in(mnist):
    # They were prepared this way already: the same box, the same centre (within rounding).
    _, (x_test, _) = mnist
    differences = [np.abs(prepare_image(image).astype(int) - image.astype(int)).mean() for image in x_test[:200]]
    assert np.mean(differences) < 1.0, np.mean(differences)  # grey levels of 0..255
