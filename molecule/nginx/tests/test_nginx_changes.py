"""The nginx role on change: tested reloads, a broken directive refused, extra vhosts, HSTS.

These re-run the role through ansible-playbook with the scenario's variables plus the test's, on the
first instance (trixie, the one whose ports are published).
"""

from __future__ import annotations

import pytest

from conftest import http_request, master_pid

HTTP, HTTPS = 18080, 18443
NAME = "stocksense.test"
SITE = "/etc/nginx/sites-available/stocksense.conf"


@pytest.mark.parametrize(
    ("variable", "directive", "path"),
    [
        ("nginx_site_extra_directives", "stocksense_bogus_directive on;", SITE),
    ],
)
def test_broken_directive_fails_the_play_and_nginx_keeps_serving(first_host, run_role, scenario_vars, variable, directive, path):
    before = first_host.file(path).sha256sum
    pid = master_pid(first_host)
    result = run_role("nginx", {**scenario_vars, variable: [directive]})
    assert result.failed, result.output
    # nginx's own words, with the real file names rather than the scratch copy's.
    assert 'unknown directive "stocksense_bogus_directive"' in result.output
    assert "/tmp/nginx-candidate" not in result.output
    assert first_host.file(path).sha256sum == before, "the failing template must not replace the live file"
    assert first_host.run("nginx -t").rc == 0
    assert master_pid(first_host) == pid
    assert http_request(HTTPS, "/static/app.css", host=NAME, tls=True).status == 200


def test_change_reloads_in_place_then_reverts_cleanly(first_host, run_role, scenario_vars):
    first_host.check_output("mkdir -p /var/www/docs && echo docs-home > /var/www/docs/index.html")
    pid = master_pid(first_host)
    converged = {path: first_host.file(path).sha256sum for path in (SITE, "/etc/nginx/nginx.conf")}
    changed = run_role("nginx", {
        **scenario_vars,
        "nginx_static_expires": "7d",
        # A "real" certificate (here: the placeholder's files passed as custom ones) turns HSTS on.
        "nginx_tls_certificate": "/etc/nginx/tls/placeholder.crt",
        "nginx_tls_certificate_key": "/etc/nginx/tls/placeholder.key",
        "nginx_vhosts": [{"name": "docs", "server_names": ["docs.stocksense.test"], "root": "/var/www/docs"}],
    })
    assert changed.rc == 0, changed.output
    assert changed.changed > 0
    assert master_pid(first_host) == pid, "a configuration change must reload, not restart"
    static = http_request(HTTPS, "/static/app.css", host=NAME, tls=True)
    assert static.header("cache-control") == "max-age=604800"
    assert static.header("strict-transport-security") == "max-age=31536000"
    docs = http_request(HTTP, "/", host="docs.stocksense.test")
    assert docs.status == 200 and docs.body == b"docs-home\n"

    reverted = run_role("nginx", {**scenario_vars, "nginx_vhosts": [
        {"name": "docs", "server_names": ["docs.stocksense.test"], "root": "/var/www/docs", "state": "absent"}]})
    assert reverted.rc == 0, reverted.output
    assert not first_host.file("/etc/nginx/sites-enabled/docs.conf").exists
    assert not first_host.file("/etc/nginx/sites-available/docs.conf").exists
    assert http_request(HTTP, "/", host="docs.stocksense.test").status == 301  # back to the default site
    static = http_request(HTTPS, "/static/app.css", host=NAME, tls=True)
    assert static.header("cache-control") == "max-age=2592000"
    assert static.header("strict-transport-security") is None
    assert master_pid(first_host) == pid
    # Back to exactly the converged files (molecule's idempotence step proved those are stable).
    assert {path: first_host.file(path).sha256sum for path in converged} == converged


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"nginx_api_rate_limit": "lots"}, "nginx_api_rate_limit"),
        ({"nginx_api_rate_burst": "many"}, "nginx_api_rate_burst"),
    ],
)
def test_bad_settings_are_refused_before_any_change(first_host, run_role, scenario_vars, bad, words):
    before = first_host.file(SITE).sha256sum
    result = run_role("nginx", {**scenario_vars, **bad})
    assert result.failed
    assert words in result.output
    assert first_host.file(SITE).sha256sum == before


def test_own_templates_replace_the_roles_and_the_defaults_bring_them_back(first_host, run_role, scenario_vars, tmp_path):
    """nginx_unavailable_page_template and a vhost's own template: files on the controller, used as given."""
    page = tmp_path / "my-unavailable.html.j2"
    page.write_text("<!doctype html><title>{{ nginx_unavailable_title }}</title><p>our own page</p>\n")
    vhost = tmp_path / "my-vhost.conf.j2"
    vhost.write_text("# our own vhost template\nserver {\n    listen 80;\n    server_name {{ item.server_names | join(' ') }};\n"
                     "    location / { return 204; }\n}\n")
    unavailable = "/var/www/stocksense-errors/unavailable.html"
    converged = first_host.file(unavailable).sha256sum
    pid = master_pid(first_host)

    own = run_role("nginx", {**scenario_vars, "nginx_unavailable_page_template": str(page), "nginx_vhosts": [
        {"name": "own", "server_names": ["own.stocksense.test"], "root": "/var/www/own", "template": str(vhost)}]})
    assert own.rc == 0, own.output
    assert "<p>our own page</p>" in first_host.file(unavailable).content_string
    assert first_host.file("/etc/nginx/sites-available/own.conf").contains("# our own vhost template")
    assert http_request(HTTP, "/", host="own.stocksense.test").status == 204
    assert master_pid(first_host) == pid

    back = run_role("nginx", {**scenario_vars, "nginx_vhosts": [{"name": "own", "server_names": ["own.stocksense.test"], "state": "absent"}]})
    assert back.rc == 0, back.output
    assert first_host.file(unavailable).sha256sum == converged
    assert not first_host.file("/etc/nginx/sites-available/own.conf").exists


def test_site_entry_point_validates_its_arguments_before_any_change(first_host, run_role, scenario_vars):
    """tasks_from: site (what the certbot role runs) is checked by the site entry point of the argument specs.

    A max-age nginx would accept as header text: only the spec's int type stops it.
    """
    before = first_host.file(SITE).sha256sum
    result = run_role("nginx", {**scenario_vars, "nginx_hsts_max_age": "forever",
                                "nginx_tls_certificate": "/etc/nginx/tls/placeholder.crt",
                                "nginx_tls_certificate_key": "/etc/nginx/tls/placeholder.key"}, tasks_from="site")
    assert result.failed, result.output[-3000:]
    assert "nginx_hsts_max_age" in result.output
    assert "'site'" in result.output or "entry point" in result.output.lower(), result.output[-3000:]
    assert first_host.file(SITE).sha256sum == before

    ok = run_role("nginx", scenario_vars, tasks_from="site")
    assert ok.rc == 0, ok.output
    assert ok.changed == 0, "the site entry point on a converged host changes nothing"
