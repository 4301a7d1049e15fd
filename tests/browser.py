"""Open a local HTML file in headless Debian Chromium (selenium + chromedriver) and
report what a user's browser would: console errors, network requests, figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def open_page(path: Path, width: int = 1280, height: int = 900) -> dict:
    """The page at a window of `width` x `height` CSS pixels; `overflow` is how many pixels
    the page is wider than the window (0: no horizontal scrolling of the page)."""
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium")
    driver_bin = shutil.which("chromedriver")
    assert chromium and driver_bin, (
        "browser tests need Debian's chromium and chromium-driver (scripts/install.sh installs them)"
    )
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        url = path.resolve().as_uri()
        driver.get(url)
        try:
            alert = driver.switch_to.alert.text
        except NoAlertPresentException:
            alert = None
        requests = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                requests.append(msg["params"]["request"]["url"])
        svgs = driver.find_elements("css selector", "svg")
        return {
            "alert": alert,
            "console": [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")],
            "requests": [u for u in requests if u != url],
            "figures": [(s.is_displayed(), s.size["width"], s.size["height"]) for s in svgs],
            "text": driver.find_element("tag name", "body").text,
            "title": driver.title,
            "overflow": driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            ),
        }
    finally:
        driver.quit()
