"""The drawing demo (demo/app.py, `make demo`): started on localhost, asked through Gradio's client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

try:
    import gradio_client
except ImportError as exc:  # not skipped: `make test` installs the extra, and a missing one must show
    raise ImportError("The demo's tests need its extra: pip install -r requirements-demo.txt -c requirements.txt "
                      "(make test installs it).") from exc

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """The demo, started as `make demo` starts it, exporting its model into a folder of the test's own."""
    port = free_port()
    folder = tmp_path_factory.mktemp("demo")
    env = {key: value for key, value in os.environ.items()
           if key not in ("MNIST_SMOKE", "MNIST_RETRAIN", "MNIST_SERIES_DIR")}  # the reader's mode, as `make demo`
    env |= {"MNIST_MY_RUNS_DIR": str(folder / "my_runs"), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = folder / "demo.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, str(ROOT / "demo" / "app.py"), "--port", str(port)], cwd=ROOT,
                                  env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while url not in log.read_text():  # Gradio's "Running on local URL: ..." line: this server is up
            if server.poll() is not None:
                pytest.fail(f"the demo stopped (exit code {server.returncode}):\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the demo did not start within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url + "/"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def drawing(tmp_path: Path, digit_image: np.ndarray, name: str) -> dict:
    """A sketchpad value as the browser sends it: a white 400x400 canvas with the digit in dark ink, off-centre."""
    canvas = np.full((400, 400), 255, np.uint8)
    canvas[40:208, 60:228] = 255 - np.kron(digit_image, np.ones((6, 6), np.uint8))  # 28x28 -> 168x168
    path = tmp_path / f"{name}.png"
    Image.fromarray(canvas).convert("RGBA").save(path)
    file = gradio_client.handle_file(str(path))
    return {"background": file, "layers": [], "composite": file}


def test_the_demo_reads_a_drawn_digit_through_its_client_api(demo_url, mnist, tmp_path):
    _, (x_test, y_test) = mnist
    client = gradio_client.Client(demo_url, verbose=False)
    for index in (0, 1, 2):  # a 7, a 2 and a 1
        label, prepared = client.predict(drawing(tmp_path, x_test[index], f"digit{index}"), api_name="/classify")
        assert label["label"] == str(y_test[index]), label
        confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
        assert set(confidences) == {str(k) for k in range(10)} and sum(confidences.values()) == pytest.approx(1, abs=1e-4)
        seen = np.asarray(Image.open(prepared).convert("L"))  # the prepared 28x28 digit, shown 8 times larger
        assert seen.shape == (224, 224) and (seen[::8, ::8] > 0).sum() > 20


def test_the_demo_answers_nothing_for_an_empty_canvas(demo_url, tmp_path):
    path = tmp_path / "empty.png"
    Image.new("RGBA", (400, 400), (0, 0, 0, 0)).save(path)
    file = gradio_client.handle_file(str(path))
    label, prepared = gradio_client.Client(demo_url, verbose=False).predict(
        {"background": file, "layers": [], "composite": file}, api_name="/classify")
    assert prepared is None and not label.get("confidences")
