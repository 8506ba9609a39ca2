"""Draw a digit and watch the series' MNIST model read it: a small web app (``make demo``).

It runs the LiteRT file of notebook 04's custom CNN, exported at start as notebook 07 does, with
TensorFlow's interpreter. Each drawing is prepared the way MNIST's
digits were (``mu.prepare_image``), and the app shows the 28x28 image the model gets.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np

import mnist_utils as mu

Probabilities = dict[str, float]
VIEW_SCALE = 8  # the 28x28 image the model gets, shown at 224x224


def model_file() -> Path:
    """The MNIST model exported afresh from its current best weights (seconds), so that the app
    never runs a stale export."""
    path = mu.export_folder() / "mnist.tflite"
    print(f"Exporting notebook 04's custom CNN to {path} ...")
    return mu.export_litert(mu.load_best_checkpoint(mu.get_custom_cnn(name="custom_cnn"), dataset="mnist"), path)


def classifier(predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[object], tuple[Probabilities, np.ndarray | None]]:
    """The app's function: a drawing (Gradio's sketchpad value, or a picture) -> the ten
    probabilities and the prepared 28x28 digit (shown 8 times larger); nothing for an empty canvas."""
    def classify(drawing: object) -> tuple[Probabilities, np.ndarray | None]:
        picture = drawing.get("composite") if isinstance(drawing, dict) else drawing
        if picture is None:
            return {}, None
        try:
            digit = mu.prepare_image(picture)
        except ValueError:  # nothing drawn yet
            return {}, None
        probs = predict(digit[np.newaxis])[0]
        shown = np.kron(digit, np.ones((VIEW_SCALE, VIEW_SCALE), np.uint8))  # big pixels, none blurred
        return {str(label): float(p) for label, p in enumerate(probs)}, shown
    return classify


def build_app(predict: Callable[[np.ndarray], np.ndarray]) -> gr.Interface:
    """The web page: a sketchpad on the left, the probabilities and the model's view on the right."""
    return gr.Interface(
        classifier(predict),
        gr.Sketchpad(label="draw one digit", canvas_size=(400, 400), type="numpy", layers=False, format="png",
                     brush=gr.Brush(default_size=24, colors=["#000000"], color_mode="fixed")),
        [gr.Label(num_top_classes=10, label="the model's probabilities"),
         gr.Image(label="what the model sees: your drawing prepared as MNIST's digits (28x28)", image_mode="L",
                  height=260)],
        live=True, flagging_mode="never", api_name="classify",
        title="Draw a digit",
        description="Pick the brush (left of the canvas) and draw one digit, large. The series' custom CNN "
                    "(notebook 04), exported to LiteRT (notebook 07), reads it as you draw.",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    build_app(mu.load_litert(model_file())).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
