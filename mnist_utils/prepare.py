"""Your own digits, prepared the way MNIST's were: grey levels, ink bright on a dark background, the
digit's bounding box scaled into 20x20 keeping its aspect, centred by its centre of mass in 28x28."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

DIGIT_BOX, CANVAS = 20, 28
INK_THRESHOLD = 0.1  # a pixel with at least this share of the strongest ink belongs to the digit


def to_grey(image: object) -> np.ndarray:
    """Any picture of one digit (an array or a PIL image; grey, RGB or RGBA; uint8 or float in [0, 1])
    as float grey levels in [0, 1], 0 for black."""
    try:
        array = np.asarray(image)
    except Exception as exc:  # noqa: BLE001: whatever numpy cannot read
        raise TypeError(f"Cannot read a picture from {type(image).__name__}: pass a numpy array or a PIL image.") from exc
    if array.dtype.kind not in "uifb":
        raise TypeError(f"A picture holds numbers, got an array of {array.dtype}: pass a numpy array of grey "
                        "levels or colours, or a PIL image (load a file with PIL.Image.open(path)).")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise ValueError(f"Expected one picture of shape (height, width) or (height, width, 1, 3 or 4 channels), "
                         f"got shape {array.shape}.")
    if min(array.shape[:2]) < 2:
        raise ValueError(f"The picture is {array.shape[0]}x{array.shape[1]} pixels: too small to hold a digit.")
    values = array.astype(np.float64)
    if array.dtype.kind in "ui" or values.max() > 1:
        values = values / 255.0
    if values.min() < 0 or values.max() > 1:
        raise ValueError("Grey levels must lie in 0..255 (integers) or 0..1 (floats).")
    if values.ndim == 3:
        alpha = values[..., 3:4] if values.shape[-1] == 4 else 1.0
        colour = values[..., :3] * alpha + (1 - alpha)  # a transparent background reads as white paper
        values = colour @ np.array([0.299, 0.587, 0.114])  # luminance (ITU-R BT.601), as PIL's "L"
    return values


def prepare_image(image: object, invert: bool | None = None) -> np.ndarray:
    """A picture of one digit as a 28x28 uint8 MNIST image (0 background, 255 ink).

    ``invert``: True for dark ink on light paper (a photo, a scan, a drawing on white), False for
    bright ink on a dark background (as MNIST), None to tell from the border, which is paper.
    Raises ValueError for a picture with no digit in it (one grey level everywhere).
    """
    grey = to_grey(image)
    if invert is None:
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        invert = bool(np.median(border) > 0.5)
    ink = 1.0 - grey if invert else grey
    ink = ink - np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))  # the paper's level is 0
    ink = np.clip(ink, 0, None)
    if ink.max() < 0.05:
        raise ValueError("No digit found: the picture has (almost) one grey level everywhere. Pass a picture "
                         "with a digit drawn in a colour that differs from its background.")
    rows, cols = np.nonzero(ink >= INK_THRESHOLD * ink.max())
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1] / ink.max()
    scale = DIGIT_BOX / max(crop.shape)
    size = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
    box = tf.image.resize(crop[..., np.newaxis], size, method="area", antialias=True).numpy()[..., 0]
    box = np.clip(box / max(box.max(), 1e-12), 0, 1)
    # Centre of mass of the box, then the shift that puts it at the canvas' centre (MNIST's rule),
    # kept small enough that the box stays inside the canvas.
    weights = box / box.sum()
    centre = np.array([np.sum(weights * np.arange(size[0])[:, None]), np.sum(weights * np.arange(size[1])[None, :])])
    top_left = np.round(CANVAS / 2 - centre).astype(int)  # MNIST digits have theirs at (14.0, 14.0)
    top_left = np.clip(top_left, 0, np.array([CANVAS, CANVAS]) - np.array(size))
    canvas = np.zeros((CANVAS, CANVAS))
    canvas[top_left[0]:top_left[0] + size[0], top_left[1]:top_left[1] + size[1]] = box
    return np.round(canvas * 255).astype(np.uint8)
