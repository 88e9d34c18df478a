"""Fixtures for the end-to-end tests: the sandbox's public name, port and trusted CA, a browser.

From tests/sandbox_site.py (molecule/conftest.py puts tests/ on the path).
"""

from sandbox_site import DOMAIN, PinnedHTTPSConnection, Site, browser, site  # noqa: F401
