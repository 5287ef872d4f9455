"""The headless Chromium shared by the browser tests (test_browser.py: JupyterLab; test_book.py: the built book).

``CHROMIUM`` is Debian's chromium on PATH (None when it is missing: those tests skip), ``CHROMIUM_FLAGS``
the arguments Playwright launches it with.
"""

import shutil

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
