"""The demo's picture (images/07_use_the_model/demo.png): start the demo, draw a 3 in a headless
Chromium, and take a screenshot once the model has answered.

A maintainer's tool, not part of any install: it needs Playwright's Python package and a Chromium,
for example on Debian `apt-get install chromium` and `pip install playwright==1.58.0` (no browser
download: it drives the system's Chromium). Run it from the series' folder with the demo's extra
installed: `python demo/screenshot.py --python .venv/bin/python`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
# A 3 as the mouse draws it, in points of a unit box (0, 0 top left) of the canvas.
THREE = [(0.3, 0.25), (0.45, 0.18), (0.6, 0.2), (0.65, 0.3), (0.58, 0.42), (0.45, 0.47), (0.6, 0.52), (0.67, 0.65),
         (0.6, 0.78), (0.45, 0.82), (0.3, 0.76)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python", help="the Python that has the demo's extra installed")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--output", type=Path, default=ROOT / "images" / "07_use_the_model" / "demo.png")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "MNIST_MY_RUNS_DIR": tempfile.mkdtemp(), "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([args.python, str(ROOT / "demo" / "app.py"), "--port", str(port)], cwd=ROOT, env=env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for _ in range(120):  # the demo exports its model first
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:  # noqa: BLE001: not listening yet
                    time.sleep(1)
            canvas = page.locator("canvas").first
            canvas.wait_for(timeout=60_000)
            page.get_by_role("button", name="Brush").click()  # as a reader does first
            page.keyboard.press("Escape")  # closes the brush's size and colour menu
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + THREE[0][0] * box["width"], box["y"] + THREE[0][1] * box["height"])
            page.mouse.down()
            for x, y in THREE[1:]:
                page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
            page.mouse.up()
            page.wait_for_timeout(4000)  # the live answer
            args.output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.output))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
