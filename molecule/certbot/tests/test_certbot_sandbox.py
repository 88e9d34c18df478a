"""The renewal service in its sandbox (roles/certbot/tasks/hardening.yml) still renews and reloads nginx.

The other tests call certbot directly; this one renews through certbot.service itself, the way the
timer does.
"""

from __future__ import annotations

import re

from conftest import master_pid, openssl_x509, peer_certificate_pem, peer_certificate_pem_after_reload

HTTPS = 18543
NAME = "stocksense.test"
LIVE = f"/etc/letsencrypt/live/{NAME}"
RENEWAL = f"/etc/letsencrypt/renewal/{NAME}.conf"
HOOK_LOG = "/var/log/letsencrypt/stocksense-deploy-hook.log"


def test_renewal_service_is_sandboxed_below_exposure_5(host):
    assert host.check_output("systemctl show -P ProtectSystem certbot.service") == "strict"
    report = host.run("systemd-analyze security --no-pager certbot.service")
    level = float(re.search(r"Overall exposure level for certbot.service: (\d+\.\d+)", report.stdout)[1])
    print(f"certbot.service exposure: {level}")
    assert level <= 5.0


def test_sandboxed_service_renews_and_its_hook_reloads_nginx(host):
    """The timer's own service, unchanged, renews a certificate that is due and the hook reloads nginx.

    Pebble's certificates are valid for years, so the lineage is made due by its renewal window.
    """
    served = peer_certificate_pem(HTTPS, NAME)
    before = openssl_x509(served, "-serial")
    reloads = host.file(HOOK_LOG).content_string.count(f"{LIVE}: nginx reloaded")
    pid = master_pid(host)
    host.check_output(f"cp {RENEWAL} /root/renewal.conf.bak && sed -i '1i renew_before_expiry = 36500 days' {RENEWAL}")
    try:
        run = host.run("systemctl start certbot.service")
        journal = host.run("journalctl -u certbot.service -n 40 --no-pager").stdout
        assert run.rc == 0, journal
    finally:
        host.run(f"cp /root/renewal.conf.bak {RENEWAL}")
    hook_log = host.file(HOOK_LOG).content_string
    assert hook_log.count(f"{LIVE}: nginx reloaded") == reloads + 1, hook_log + journal
    assert openssl_x509(peer_certificate_pem_after_reload(HTTPS, NAME, served), "-serial") != before
    assert master_pid(host) == pid, "the hook reloads nginx, it does not restart it"
