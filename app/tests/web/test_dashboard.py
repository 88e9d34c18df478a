"""Dashboard pages: server-rendered tables readable without JavaScript, strict CSP, stale banner."""

from __future__ import annotations

import re

from conftest import TRAINED, UNTRAINED


def _text(resp) -> str:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


def test_security_headers(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_no_inline_script_or_style(client):
    for url in ("/", f"/symbols/{TRAINED}", "/models", "/admin/login"):
        html = _text(client.get(url))
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert "<style" not in html and " style=" not in html and "onclick" not in html
        assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_overview_table(client):
    html = _text(client.get("/"))
    assert '<table id="overview"' in html
    row = re.search(rf'<tr data-symbol="{TRAINED}">(.*?)</tr>', html, re.S).group(1)
    fc = client.get(f"/api/v1/symbols/{TRAINED}/forecast").get_json()
    assert f"{fc['last_close']:,.2f}" in row
    assert fc["as_of"] in row
    assert f"{fc['ensemble']['predicted_close']:,.2f}" in row
    for m in fc["models"].values():
        assert f"{m['predicted_close']:,.2f}" in row
    assert (
        len(re.findall(r'class="num skill-(?:good|bad|even|na)"', row)) == 3
    )  # 2 models + ensemble
    assert "persistence" in row  # the colour is backed by words
    assert UNTRAINED not in html.split('<table id="overview"')[1].split("</table>")[0]


def test_overview_shows_unavailable_forecast(app, client):
    app.extensions["stocksense.backend"].add_symbol(UNTRAINED)
    html = _text(client.get("/"))
    row = re.search(rf'<tr data-symbol="{UNTRAINED}">(.*?)</tr>', html, re.S).group(1)
    assert "Forecast unavailable" in row
    last = client.get(f"/api/v1/symbols/{UNTRAINED}/history?days=1").get_json()["prices"][-1]
    assert f"{last['close']:,.2f}" in row and last["date"] in row


def test_stale_banner(client, app):
    # the bundled prices end years ago, so they are stale today
    html = _text(client.get("/"))
    assert 'id="stale-banner"' in html and TRAINED in html.split('id="stale-banner"')[1][:400]
    cfg = app.extensions["stocksense.config"]
    app.extensions["stocksense.config"] = cfg.with_overrides(stale_after_days=36500)
    assert 'id="stale-banner"' not in _text(client.get("/"))


def test_symbol_page(client):
    html = _text(client.get(f"/symbols/{TRAINED.lower()}"))
    assert 'id="price-chart"' in html and 'id="backtest-chart"' in html
    assert '<table id="forecast"' in html and '<table id="metrics"' in html
    assert 'type="application/json" id="chart-data"' in html
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    data = re.search(r'id="chart-data">(.*?)</script>', html, re.S).group(1)
    import json

    parsed = json.loads(data)
    assert len(parsed["history"]["dates"]) == 365 and parsed["backtest"]["actual"]
    fc = client.get(f"/api/v1/symbols/{TRAINED}/forecast").get_json()
    for m in fc["models"].values():
        assert str(m["model_version"]) in html


def test_symbol_page_without_models(client):
    html = _text(client.get(f"/symbols/{UNTRAINED}"))
    assert 'id="forecast-unavailable"' in html and 'id="backtest-unavailable"' in html


def test_symbol_page_bad_input(client):
    r = client.get("/symbols/bad!!")
    assert r.status_code == 400 and "Traceback" not in r.get_data(as_text=True)
    r = client.get("/symbols/ZZZZ")
    assert r.status_code == 404 and "ZZZZ" in r.get_data(as_text=True)


def test_models_page(client):
    html = _text(client.get("/models"))
    assert '<table id="models"' in html
    for m in client.get("/api/v1/models").get_json()["models"]:
        assert m["version"] in html
    # backtest skill per model comes from the latest backtest
    bt = client.get(f"/api/v1/symbols/{TRAINED}/backtest").get_json()["metrics"]
    for name in ("transformer", "lstm"):
        assert f"{bt[name]['skill_vs_persistence']:.3f}" in html
    assert "no backtest" not in html


def test_static_chart_library_and_licence_served(client):
    r = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert r.status_code == 200 and b"Chart" in r.data[:2000] or b"chart" in r.data[:2000]
    r.close()
    lic = client.get("/static/vendor/chartjs/LICENSE.md")
    assert lic.status_code == 200 and b"MIT License" in lic.data
    lic.close()


def test_html_404_has_no_trace(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and r.mimetype == "text/html"
