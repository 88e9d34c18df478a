"""A real browser (Debian's headless Chromium) opens the dashboard over HTTPS through nginx.

Chromium trusts pebble's issuing root through its own NSS database (made here with certutil), and
maps the public name to 127.0.0.1 with --host-resolver-rules: nothing else is relaxed, so a wrong
certificate, a CSP that blocks the charts or a dashboard without forecasts fails the test.
"""

from sandbox_site import check_dashboard


def test_dashboard_over_https_shows_forecasts_and_charts(site, browser):
    check_dashboard(site, browser, "e2e")
