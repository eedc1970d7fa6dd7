"""Headless Chromium for the tests and the map benchmark (Debian's chromium and chromium-driver packages)."""

from __future__ import annotations

#: Where Debian's chromium and chromium-driver packages put the browser and its driver.
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def headless_chromium(profile_dir, *, window: tuple[int, int] = (1400, 900), console_log: bool = False):
    """A selenium driver of headless Chromium (Debian's ``/usr/bin/chromium`` and ``chromedriver``).

    The tests and the map benchmark open saved pages with it from ``file://``; background networking,
    component updates and first-run pages are off, so the browser itself asks nothing of the network.
    ``console_log`` keeps the page's console messages for ``driver.get_log("browser")``.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
        f"--window-size={window[0]},{window[1]}",
    ):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
