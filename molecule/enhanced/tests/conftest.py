"""Fixtures for the enhanced profile's end-to-end tests: the sandbox site and a browser.

The same as molecule/default's (tests/sandbox_site.py; molecule/conftest.py puts tests/ on the path).
"""

from sandbox_site import DOMAIN, PinnedHTTPSConnection, Site, browser, site  # noqa: F401
