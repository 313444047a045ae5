"""A real headless Chromium for the tests, driven through Debian's chromedriver.

The flags keep it from reaching for the network at start (sync, updates,
background fetches), which a closed test machine refuses noisily and slowly;
a fresh profile directory per browser keeps runs independent. Selenium is
pointed at the installed browser and driver so it never tries to download one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests may run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)


@contextmanager
def chromium(profile: Path, *, scripts: bool = True) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with its profile in ``profile``; quit on exit, whatever happened.

    ``scripts=False`` turns JavaScript off, as in a locked-down or very old browser.
    """
    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            raise RuntimeError(f"{program} is not installed: run scripts/install-peers (make test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if not scripts:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def full_page_screenshot(browser: webdriver.Chrome, path: Path) -> Path:
    """The whole page as a PNG at ``path``: the window grown to the page's height first."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, max(600, int(height) + 40))
    browser.save_screenshot(str(path))
    return path
