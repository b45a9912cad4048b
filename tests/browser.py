"""Headless Chromium for tests: Debian's ``chromium`` driven by Playwright (no browser download)."""

from __future__ import annotations

import shutil
import subprocess

CHROMIUM = "/usr/bin/chromium"
# Chromium's background services try to reach Google; on a machine with no internet they
# fail loudly and slowly. These flags keep the browser to the page under test.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions"]


def ensure_chromium() -> str:
    """Path of Debian's Chromium, installing the ``chromium`` package if it is missing."""
    if shutil.which("chromium") is None:
        apt = ["apt-get"] if shutil.which("sudo") is None else ["sudo", "apt-get"]
        subprocess.run([*apt, "update", "-qq"], check=True)
        subprocess.run([*apt, "install", "-y", "-qq", "chromium"], check=True)
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian package `chromium` is not installed and could not be installed (apt-get install chromium)")
    return path
