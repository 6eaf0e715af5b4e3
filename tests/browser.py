"""A real headless Chromium (Debian's ``chromium`` package) driven by playwright, for HTML pages.

No browser is downloaded: playwright drives the system's Chromium (``$LUIGI_UFO_TEST_CHROMIUM``,
else ``chromium`` on PATH). A test that needs it and finds none skips saying how to install it,
or fails under ``LUIGI_UFO_TEST_STRICT=1`` (CI, whose ``.ci/run`` installs the package).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_ufo.testing import missing

CHROMIUM_ENV = "LUIGI_UFO_TEST_CHROMIUM"
#: Headless, and quiet on the network: no component updates, no background requests.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """Return the Chromium executable to drive, or None."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        return explicit
    return next(
        (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))),
        None,
    )


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Yield a launched headless Chromium (a playwright ``Browser``); close it after."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed; pip install -e '.[test]'")
    path = chromium_path()
    if path is None:
        missing(f"no Chromium found; apt-get install chromium, or set {CHROMIUM_ENV}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Opened:
    """A page opened from a file, with every request it made and every console message."""

    page: Any
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def text(self, selector: str) -> str:
        """Return the text content of the one element ``selector`` finds."""
        return str(self.page.locator(selector).text_content()).strip()

    def count(self, selector: str) -> int:
        """Return how many elements ``selector`` finds."""
        return int(self.page.locator(selector).count())


def open_file(browser: Any, path: Path, width: int = 1100, height: int = 900) -> Opened:
    """Open ``path`` in a new page of ``browser`` and wait until it has loaded."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    opened = Opened(page)
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda message: opened.console.append(message.text))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return opened


def screenshot_is_drawn(png: bytes) -> tuple[float, int]:
    """Return (share of pixels that are not the background, distinct colours) of a PNG."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height) or []
    total = image.width * image.height
    background = max(count for count, _ in colours)
    return (total - background) / total, len(colours)


def screenshot(page_path: Path, png: Path, width: int = 900) -> None:
    """Save a full-page screenshot of ``page_path`` as a small PNG (256 colours)."""
    from PIL import Image

    with chromium() as browser:
        opened = open_file(browser, page_path, width=width, height=100)
        data = opened.page.screenshot(full_page=True)
    Image.open(io.BytesIO(data)).convert("RGB").quantize(256).save(png, optimize=True)


if __name__ == "__main__":  # python -m tests.browser PAGE.html OUT.png: the docs' screenshots
    import sys

    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
