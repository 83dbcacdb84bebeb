"""The built site in a real browser: headless Debian Chromium driven by Playwright.

``server`` serves a built site on 127.0.0.1 and starts the browser; ``check`` visits every page (``pages`` holds the
checks of one page); ``explorer`` drives the convolution explorer against the library (``explorer_cases`` is the
library's side, ``explorer_page`` the page's); ``pdf`` prints the PDF edition and checks it.
"""
