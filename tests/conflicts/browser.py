"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) through Selenium.

With ``CI`` set, a missing browser fails the run: the review app's browser
tests must not pass by being skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

IN_CI = bool(os.environ.get("CI"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    """Why the browser tests cannot run, or ``None``."""
    for path in (CHROMIUM, DRIVER):
        if not os.path.exists(path):
            return f"{path} is missing: apt-get install chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: pip install -e '.[dev]'"
    return None


def require_browser() -> None:
    why = browser_missing()
    if why is None:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI=true: a missing browser is a failure)", pytrace=False)
    pytest.skip(why)


@contextmanager
def chromium(width: int = 1280, height: int = 900, *, phone: bool = False) -> Iterator[Any]:
    """A headless Chromium driven by Selenium (emulating a phone's screen), closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    if phone:
        metrics = {"width": width, "height": height, "pixelRatio": 2}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(app: Any, port: int | None = None) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 (on ``port``, default a free one) in a thread;
    its base URL."""
    import uvicorn

    port = port or _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the review app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
