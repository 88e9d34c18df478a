"""certbot against Pebble on the controller's loopback, with nginx in front (the order of configure.yml).

Port 443 of the instance is published as 127.0.0.1:18543. Pebble's management API (127.0.0.1:15000)
gives the root and intermediate it issues from; they change on every pebble start.
"""

from __future__ import annotations

import ssl
import subprocess
import urllib.request

import pytest

from conftest import REPO, http_request, master_pid, openssl_x509, peer_certificate_pem, peer_certificate_pem_after_reload

HTTPS = 18543
NAME = "stocksense.test"
CA = REPO / ".cache" / "pebble" / "ca.pem"  # signs pebble's own HTTPS certificate
LIVE = f"/etc/letsencrypt/live/{NAME}"


def pebble_management(path: str) -> str:
    context = ssl.create_default_context(cafile=str(CA))
    with urllib.request.urlopen(f"https://127.0.0.1:15000{path}", context=context, timeout=10) as resp:  # noqa: S310 - loopback
        return resp.read().decode()


@pytest.fixture(scope="module")
def pebble_chain(tmp_path_factory):
    """Pebble's current root and intermediate, written to files for openssl."""
    folder = tmp_path_factory.mktemp("pebble")
    root, intermediate = folder / "root.pem", folder / "intermediate.pem"
    root.write_text(pebble_management("/roots/0"))
    intermediate.write_text(pebble_management("/intermediates/0"))
    return root, intermediate


def serial(pem: str) -> str:
    return openssl_x509(pem, "-serial").strip()


def test_port_443_presents_a_certificate_from_the_pebble_intermediate(pebble_chain, tmp_path):
    root, intermediate = pebble_chain
    leaf_pem = peer_certificate_pem(HTTPS, NAME)
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(leaf_pem)
    issuer = openssl_x509(leaf_pem, "-issuer", "-nameopt", "RFC2253").split("=", 1)[1].strip()
    subject = openssl_x509(intermediate.read_text(), "-subject", "-nameopt", "RFC2253").split("=", 1)[1].strip()
    assert issuer.startswith("CN=Pebble Intermediate CA")
    assert issuer == subject
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted", str(intermediate), str(leaf)],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    names = openssl_x509(leaf_pem, "-ext", "subjectAltName")
    assert f"DNS:{NAME}" in names and f"DNS:www.{NAME}" in names


def test_site_verifies_against_the_pebble_root_and_sends_hsts(pebble_chain):
    root, _ = pebble_chain
    for name in (NAME, f"www.{NAME}"):
        response = http_request(HTTPS, "/static/none.css", host=name, tls=True, cafile=str(root))  # full verification
        assert response.status == 404
        assert response.header("strict-transport-security") == "max-age=31536000"


def test_site_file_points_at_the_live_certificate(host):
    site = host.file("/etc/nginx/sites-available/stocksense.conf")
    assert site.contains(rf"ssl_certificate {LIVE}/fullchain.pem;")
    assert site.contains(rf"ssl_certificate_key {LIVE}/privkey.pem;")
    # Pebble's certificates name no OCSP responder, so stapling (auto) stays off.
    assert host.run(f"openssl x509 -noout -ocsp_uri -in {LIVE}/cert.pem").stdout.strip() == ""
    assert not site.contains("ssl_stapling on")
    assert host.run("nginx -t").rc == 0


def test_renewal_is_the_distribution_timer_with_the_saved_server(host):
    timer = host.service("certbot.timer")
    assert timer.is_enabled and timer.is_running
    assert host.file(f"/etc/letsencrypt/renewal/{NAME}.conf").contains(r"^server = https://10.0.2.2:14000/dir$")
    assert host.file(f"/etc/letsencrypt/renewal/{NAME}.conf").contains(r"^authenticator = webroot$")
    dropin = host.file("/etc/systemd/system/certbot.service.d/stocksense.conf")
    assert dropin.contains(r"^Environment=REQUESTS_CA_BUNDLE=/etc/letsencrypt/acme-ca-bundle.pem$")
    assert "REQUESTS_CA_BUNDLE" in host.check_output("systemctl show -p Environment certbot.service")
    # No cron job of ours; Debian's own /etc/cron.d/certbot does nothing under systemd.
    assert "certbot" not in host.run("crontab -l").stdout
    # The timer's service runs clean (nothing due, so it asks the CA for nothing).
    assert host.run("systemctl start certbot.service").rc == 0


def test_forced_renewal_runs_the_deploy_hook_and_nginx_reloads_onto_the_new_certificate(host):
    served = peer_certificate_pem(HTTPS, NAME)
    before = serial(served)
    pid = master_pid(host)
    renew = host.run("REQUESTS_CA_BUNDLE=/etc/letsencrypt/acme-ca-bundle.pem "
                     f"certbot renew --cert-name {NAME} --force-renewal --no-random-sleep-on-renew --non-interactive")
    assert renew.rc == 0, renew.stdout + renew.stderr
    assert f"{LIVE}: nginx reloaded" in host.file("/var/log/letsencrypt/stocksense-deploy-hook.log").content_string
    after = serial(peer_certificate_pem_after_reload(HTTPS, NAME, served))
    assert after != before
    assert after == serial(host.check_output(f"cat {LIVE}/cert.pem"))
    assert master_pid(host) == pid, "a renewal must reload nginx, not restart it"


def test_unreachable_acme_server_fails_clearly_and_nginx_keeps_serving(host, run_role, scenario_vars):
    served = serial(peer_certificate_pem(HTTPS, NAME))
    renewal_conf = host.file(f"/etc/letsencrypt/renewal/{NAME}.conf").content_string
    pid = master_pid(host)
    result = run_role("certbot", {**scenario_vars, "certbot_acme_ca_bundle": str(CA),
                                  "certbot_acme_directory_url": "https://127.0.0.1:9/dir"})
    assert result.failed
    assert "certbot could not obtain 'stocksense.test' from https://127.0.0.1:9/dir" in result.output
    assert "nginx keeps serving" in result.output
    assert "Connection refused" in result.output or "Max retries" in result.output  # certbot's own words
    assert serial(peer_certificate_pem(HTTPS, NAME)) == served
    assert host.file(f"/etc/letsencrypt/renewal/{NAME}.conf").content_string == renewal_conf
    assert master_pid(host) == pid


def test_a_certificate_expiring_within_the_window_is_reissued_and_a_valid_one_is_kept(host, run_role, scenario_vars):
    """The expiry check (community.crypto.x509_certificate_info, valid_at) with a window longer than any
    Pebble certificate: re-issued; with the default window the new one is kept and nothing changes."""
    served_pem = peer_certificate_pem(HTTPS, NAME)
    served = serial(served_pem)
    pid = master_pid(host)
    due = run_role("certbot", {**scenario_vars, "certbot_acme_ca_bundle": str(CA), "certbot_min_validity_days": 36500})
    assert due.rc == 0, due.output
    assert "expires within 36500 days" in due.output
    assert serial(peer_certificate_pem_after_reload(HTTPS, NAME, served_pem)) != served
    assert master_pid(host) == pid

    kept = run_role("certbot", {**scenario_vars, "certbot_acme_ca_bundle": str(CA)})
    assert kept.rc == 0, kept.output
    assert "Requesting certificate" not in kept.output
    assert kept.changed == 0, kept.output[-3000:]


def test_a_changed_domain_list_reissues_the_same_lineage(host, run_role, scenario_vars):
    domains = [*scenario_vars["certbot_domains"], f"api.{NAME}"]
    served = peer_certificate_pem(HTTPS, NAME)
    pid = master_pid(host)
    result = run_role("certbot", {**scenario_vars, "certbot_acme_ca_bundle": str(CA), "certbot_domains": domains})
    assert result.rc == 0, result.output
    assert "names differ" in result.output
    names = openssl_x509(peer_certificate_pem_after_reload(HTTPS, NAME, served), "-ext", "subjectAltName")
    assert f"DNS:api.{NAME}" in names
    assert not host.file(f"/etc/letsencrypt/live/{NAME}-0001").exists, "must reuse the lineage, not add a second"
    assert master_pid(host) == pid


def test_standalone_method_stops_nginx_only_around_the_request(host, run_role, scenario_vars):
    name = f"standalone.{NAME}"
    result = run_role("certbot", {**scenario_vars, "certbot_acme_ca_bundle": str(CA), "certbot_method": "standalone",
                                  "certbot_cert_name": name, "certbot_domains": [name], "certbot_configure_nginx": False})
    assert result.rc == 0, result.output
    assert f"DNS:{name}" in host.check_output(f"openssl x509 -noout -ext subjectAltName -in /etc/letsencrypt/live/{name}/cert.pem")
    renewal = host.file(f"/etc/letsencrypt/renewal/{name}.conf")
    assert renewal.contains(r"^authenticator = standalone$")
    assert renewal.contains(r"^pre_hook = systemctl stop nginx$")
    assert renewal.contains(r"^post_hook = systemctl start nginx$")
    # nginx is back and still serves the site's own lineage.
    assert host.service("nginx").is_running
    assert f"DNS:{NAME}" in openssl_x509(peer_certificate_pem(HTTPS, NAME), "-ext", "subjectAltName")
