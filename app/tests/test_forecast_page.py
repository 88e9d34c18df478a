"""The symbol page shows the served band, the coverage table and the fallback rule.

Built on the ML core's tiny trained home (real bundled prices, LiteRT models, a stored backtest);
the page and its chart data come from src/stocksense/web/templates/symbol.html.
"""

from __future__ import annotations

import json
import re

import pytest


@pytest.fixture
def client(trained_copy, monkeypatch):  # type: ignore[no-untyped-def]
    from stocksense.testing import TINY_ENV

    for key, value in {**TINY_ENV, "STOCKSENSE_HOME": str(trained_copy.home),
                       "STOCKSENSE_ENV": "development"}.items():
        monkeypatch.setenv(key, value)
    from stocksense.web import create_app

    return create_app().test_client()


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|table)>', html, re.S)
    assert match, f"#{element_id} missing"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1)))


def test_symbol_page_shows_band_coverage_and_rule(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/symbols/MSFT").get_data(as_text=True)
    fc = client.get("/api/v1/symbols/MSFT/forecast").get_json()["ensemble"]
    bt = client.get("/api/v1/symbols/MSFT/backtest").get_json()["metrics"]
    served = _text(html, "served-forecast")
    assert f"{fc['intervals']['80']['low']:,.2f}" in served
    assert f"{fc['intervals']['80']['high']:,.2f}" in served
    assert "likely between" in served
    assert "lowest error on all backtest days before it" in _text(html, "fallback-rule")
    summary = _text(html, "coverage-summary")
    assert f"80 % band held on {100 * bt['served']['coverage_80']:.0f}%" in summary
    table = _text(html, "coverage")
    for label in ("EWMA volatility", "GARCH(1,1)", "Transformer", "LSTM", "Served"):
        assert label in table
    band = json.loads(re.search(r'id="band-data">(.*?)</script>', html, re.S).group(1))
    assert band == {"quantiles": fc["quantiles"], "source": fc["band_source"]}
    # Plain words when the models do not beat the baselines.
    assert ('id="baseline-notice"' in html) == (fc["band_source"] in ("ewma", "garch"))
