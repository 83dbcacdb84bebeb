"""A built site on 127.0.0.1 at a free port, and the headless Chromium that visits it.

Shared by the site check, the explorer check and the PDF edition. The browser is Debian's ``/usr/bin/chromium``
driven by Playwright (Playwright's own browser download is not used).
"""

from __future__ import annotations

import functools
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "chromium is missing: install it with `sudo apt-get update && sudo apt-get install -y chromium`"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Uncaught errors every page of this theme stack logs (see PITFALLS.md); not the book's fault.
KNOWN_PAGE_ERRORS = ("THEBE_JS_URL",)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class SiteServer:
    """A built site (``_build/html``) on 127.0.0.1 at a free port, in a background thread."""

    def __init__(self, site: Path):
        handler = functools.partial(_QuietHandler, directory=str(site))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def launch_chromium(playwright, chromium: Path = CHROMIUM):
    """Headless ``chromium`` started by ``playwright`` (``sync_playwright()``'s object)."""
    return playwright.chromium.launch(executable_path=str(chromium), headless=True, args=LAUNCH_ARGS)


def site_path(url: str, origin: str) -> str | None:
    """The site-relative path of a same-origin URL (``index.html`` for folders), else None."""
    if not url.startswith(origin + "/") and url != origin:
        return None
    path = unquote(urlparse(url).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


def http_status(url: str) -> int:
    """The status of a HEAD request (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
